"""Which nearest-neighbour index lucida uses: faiss-cpu's inverted files (IVF) and HNSW graphs,
and usearch's HNSW, on lucida's own search vectors (a catalog's, from bench/synthetic_catalog.py) and real queries
embedded by the real embedder.

For each engine and setting: build time on every core, the file's size, how long a new process
takes to open it (memory-mapped where the library can: usearch, faiss IVF), and per query (one thread)
p50/p95 latency and recall@10 against exact search, both for the engine's own top 10 and for the
way lucida searches: ask for `depth` neighbours, score them again exactly, keep the best 10.

    HF_HUB_OFFLINE=1 python bench/ann_engines.py --catalog /tmp/syn1m.db --photos 1000000

usearch is not one of lucida's dependencies: `pip install usearch` to compare it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import machine, percentile, print_machine, write_out
from search_latency import make_queries


def search_vectors(catalog_path: str, photos: int, seed: int) -> np.ndarray:
    """`photos` of the catalog's search vectors (ConSE-mixed, as searched), drawn at random."""
    from lucida.catalog import Catalog
    from lucida.models import DEFAULT_EMBEDDER, load_embedder
    from lucida.search import Searcher

    with Catalog.open(catalog_path, create=False) as catalog:
        searcher = Searcher(catalog, load_embedder(DEFAULT_EMBEDDER), exact=True)
        searcher.size  # noqa: B018 - loads the search index's copy
        vectors = searcher._index.vectors.vectors
        rows = np.sort(np.random.default_rng(seed).choice(len(vectors), size=min(photos, len(vectors)), replace=False))
        return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def _hnsw(quantizer):
    import faiss

    def engine(dim, n):
        def build(vectors):
            index = (faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT) if quantizer is None
                     else faiss.IndexHNSWSQ(dim, quantizer, 16, faiss.METRIC_INNER_PRODUCT))  # fmt: skip
            index.hnsw.efConstruction = 64
            if quantizer is not None:
                index.train(vectors)
            index.add(vectors)
            return index

        def search(index, query, depth):
            index.hnsw.efSearch = max(depth, 64)
            return index.search(query.reshape(1, -1), depth)[1][0]

        return build, search

    return engine


def _ivf(quantizer):
    import faiss

    def engine(dim, n):
        lists = round(n**0.5)

        def build(vectors):
            coarse = faiss.IndexFlatIP(dim)
            index = (faiss.IndexIVFFlat(coarse, dim, lists, faiss.METRIC_INNER_PRODUCT) if quantizer is None
                     else faiss.IndexIVFScalarQuantizer(coarse, dim, lists, quantizer, faiss.METRIC_INNER_PRODUCT))  # fmt: skip
            index.train(vectors[np.random.default_rng(0).permutation(n)[: 50 * lists]])
            index.add(vectors)
            return index

        def search(index, query, depth):
            index.nprobe = 16
            found = index.search(query.reshape(1, -1), depth)[1][0]
            return found[found >= 0]

        return build, search

    return engine


def _usearch(dtype):
    from usearch.index import Index

    def engine(dim, n):
        def build(vectors):
            index = Index(ndim=dim, metric="ip", dtype=dtype, connectivity=16, expansion_add=64)
            index.add(np.arange(n), vectors, threads=os.cpu_count() or 1)
            return index

        def search(index, query, depth):
            index.expansion_search = max(depth, 64)
            return np.asarray(index.search(query, depth, threads=1).keys, dtype=np.int64)

        return build, search

    return engine


def save_and_open(name, index, path, probe):
    """Write the index and open it again as a new process would (memory-mapped where the
    library can), then search once."""
    if name.startswith("usearch"):
        from usearch.index import Index

        index.save(path)
        opened = Index.restore(path, view=True)
        opened.search(probe, 10)
        return opened
    import faiss

    faiss.write_index(index, path)
    flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if name.startswith("faiss-ivf") else 0
    opened = faiss.read_index(path, flags)
    opened.search(probe.reshape(1, -1), 10)
    return opened


def measure(name, search, vectors, queries, exact_top, depths) -> list[dict]:
    rows = []
    for depth in depths:
        latencies, recalls = [], []
        for query, truth in zip(queries, exact_top):
            began = time.perf_counter()
            found = search(query, depth)
            if depth > 10:  # lucida's way: rescore the depth found exactly
                found = found[np.argsort(-(vectors[found] @ query), kind="stable")[:10]]
            latencies.append((time.perf_counter() - began) * 1000)
            recalls.append(len(set(found[:10].tolist()) & set(truth.tolist())) / 10)
        latencies.sort()
        row = {"engine": name, "depth": depth, "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
               "recall_at_10": float(np.mean(recalls))}  # fmt: skip
        print(f"  {name:28s} depth {depth:4d}: p50 {row['p50_ms']:.2f} ms, p95 {row['p95_ms']:.2f} ms, recall@10 {row['recall_at_10']:.3f}", flush=True)
        rows.append(row)
    return rows


def engines():
    import faiss

    return {
        "faiss-hnsw-flat": _hnsw(None), "faiss-hnsw-sq8": _hnsw(faiss.ScalarQuantizer.QT_8bit),
        "faiss-ivf-flat": _ivf(None), "faiss-ivf-sq8": _ivf(faiss.ScalarQuantizer.QT_8bit),
        "usearch-i8": _usearch("i8"), "usearch-f16": _usearch("f16"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--photos", type=int, default=200_000)
    parser.add_argument("-q", "--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--engines", default="faiss-ivf-sq8,faiss-ivf-flat,faiss-hnsw-flat",
        help="comma-separated: faiss-hnsw-flat, faiss-hnsw-sq8, faiss-ivf-flat, faiss-ivf-sq8, usearch-i8, "
        "usearch-f16 (usearch: pip install usearch first)",
    )
    parser.add_argument("--out")
    args = parser.parse_args()

    import faiss

    from lucida.models import DEFAULT_EMBEDDER, load_embedder

    global ENGINES
    ENGINES = engines()

    facts = machine()
    print_machine(facts)
    vectors = search_vectors(args.catalog, args.photos, args.seed)
    queries = load_embedder(DEFAULT_EMBEDDER).embed_queries(make_queries(args.queries, args.seed)).astype(np.float32)
    exact_top = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    n, dim = vectors.shape
    print(f"{n} vectors of {args.catalog}, {len(queries)} queries")
    cores = os.cpu_count() or 1
    wanted = args.engines.split(",")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for name in wanted:
            build, search = ENGINES[name](dim, n)
            faiss.omp_set_num_threads(cores)
            began = time.perf_counter()
            index = build(vectors)
            build_s = time.perf_counter() - began
            path = str(Path(folder) / name)
            began = time.perf_counter()
            opened = save_and_open(name, index, path, queries[0])
            open_ms = (time.perf_counter() - began) * 1000
            size_mb = os.path.getsize(path) / 1e6
            faiss.omp_set_num_threads(1)
            print(f"{name}: build {build_s:.1f} s, file {size_mb:.0f} MB, save and open (memory-mapped) {open_ms:.0f} ms")
            for row in measure(name, lambda q, depth, opened=opened: search(opened, q, depth), vectors, queries, exact_top, (10, 100, 200, 1000)):
                results.append({**row, "build_s": build_s, "file_mb": size_mb, "open_ms": open_ms})
    write_out(args.out, {"benchmark": "ann_engines", "machine": facts, "catalog": args.catalog, "photos": n, "results": results})


if __name__ == "__main__":
    main()
