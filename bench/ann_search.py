"""Search through the nearest-neighbour index (lucida.ann_index) against exact search, on a large
catalog made by bench/synthetic_catalog.py (vectors shaped like real embeddings).

Reports, with the real query embedder loaded:
- the one-time costs: the search index's copy built from SQL, the nearest-neighbour index built
  from scratch, and a new process's open of both;
- vector-only search: p50/p95 end to end (query embedding included) through the index and
  exactly, and recall@10 of the index's results against exact search on the same queries; and
  through the index without `why`, as `lucida search` prints and the web page asks;
- hybrid search through the index and exactly;
- a filtered search (FUJIFILM X100V, 1% of the photos): latency with the filter's own SQL, and
  whether it returns the same photos as exact filtered search;
- an update of the index after 10,000 photos changed (removed and added again), and the
  search process's peak RSS.

The catalog file is read once first, so that the timings are of a catalog in the page cache, as a
server's is once it has answered for a while (a 1M catalog is about 10 GB; the passes below then
pay no disk reads that the pass before them made). `--cold` leaves that out. The searchers read
the nearest-neighbour index into memory, as `lucida serve` does; `--mapped` searches through the
mapped file, as a one-search process (`lucida search`) does.

    HF_HUB_OFFLINE=1 python bench/ann_search.py --catalog /tmp/syn1m.db --out /tmp/ann1m.json
    HF_HUB_OFFLINE=1 python bench/ann_search.py --catalog postgresql://…   # the same catalog copied there
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from _common import load_average, machine, percentile, print_machine, write_out
from search_latency import WARMUP, make_queries


def timed(function, *args, **kwargs):
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return result, (time.perf_counter() - began) * 1000


def read_through(catalog: str) -> tuple[float, float]:
    """Reads the catalog's files once (GB read, seconds)."""
    start, read = time.perf_counter(), 0
    for path in (catalog, catalog + "-wal"):
        try:
            with open(path, "rb", buffering=0) as file:
                while chunk := file.read(16 << 20):
                    read += len(chunk)
        except FileNotFoundError:
            pass
    return read / 1e9, time.perf_counter() - start


def stats(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50": percentile(ordered, 50), "p95": percentile(ordered, 95), "mean": float(np.mean(ordered))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", required=True, help="a catalog from bench/synthetic_catalog.py (or its PostgreSQL copy's URL)")
    parser.add_argument("-q", "--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--changes", type=int, default=10_000, help="photos changed before the timed update")
    parser.add_argument("--depths", default="", help="also measure vector search asking the index for these many neighbours, e.g. 500,1000")
    parser.add_argument("--mapped", action="store_true", help="search through the index file mapped, as `lucida search` does, not read into memory as `lucida serve` does")
    parser.add_argument("--cold", action="store_true", help="do not read the catalog file into the page cache first")
    parser.add_argument("--out")
    args = parser.parse_args()

    from lucida import ann_index, search
    from lucida.catalog import open_catalog
    from lucida.filters import parse_filter
    from lucida.models import DEFAULT_EMBEDDER, load_embedder
    from lucida.search import Searcher

    facts = machine()
    resident = not args.mapped
    print_machine(facts)
    embedder = load_embedder(DEFAULT_EMBEDDER)
    result: dict = {"benchmark": "ann_search", "machine": facts, "catalog": args.catalog, "k": args.k, "index_in_memory": resident}
    if not args.cold and "://" not in args.catalog:
        (result["page_cache_read_gb"], result["page_cache_read_s"]) = read_through(args.catalog)
        print(f"catalog read into the page cache: {result['page_cache_read_gb']:.1f} GB in {result['page_cache_read_s']:.1f} s")
    with open_catalog(args.catalog, create=False) as catalog:
        exact = Searcher(catalog, embedder, ranking="vector", exact=True)
        size, result["search_index_load_ms"] = timed(lambda: exact.size)
        print(f"{size} photos; the search index's copy loaded (or built from SQL) in {result['search_index_load_ms'] / 1000:.1f} s")
        folder = ann_index.folder_for(catalog.path, embedder.name, exact.conse)
        near = Searcher(catalog, embedder, ranking="vector", exact=False, resident_index=resident)
        fresh = ann_index.AnnIndex.open(folder) is None
        _, result["ann_open_or_build_ms"] = timed(lambda: near.size)
        print(f"nearest-neighbour index {'built from scratch' if fresh else 'opened'} in {result['ann_open_or_build_ms'] / 1000:.1f} s")
        result["ann_built_from_scratch"] = fresh
        reopened = Searcher(catalog, embedder, ranking="vector", exact=False, resident_index=resident)
        _, result["reopen_ms"] = timed(lambda: reopened.size)
        print(f"a new searcher opens both in {result['reopen_ms']:.0f} ms")

        queries = make_queries(args.queries + WARMUP, args.seed)
        for query in queries[:WARMUP]:
            near.search(query, args.k)
            exact.search(query, args.k)
        result["load_average_before"] = load_average()
        # Each searcher in a pass of its own, as a server answers: an exact search between two
        # searches through the index would read 1.5 GB of vectors and leave the caches cold.
        near_ms, exact_ms, recalls, found_near = [], [], [], {}
        for query in queries[WARMUP:]:
            near.recent_queries = type(near.recent_queries)()  # embedding included in every timing
            found_near[query], ms = timed(near.search, query, args.k)
            near_ms.append(ms)
        # The same queries again: each word's photos are fetched from FTS5 once per catalog
        # generation, so a server that has seen a word answers its next query without the fetch.
        warm_ms = []
        for query in queries[WARMUP:]:
            near.recent_queries = type(near.recent_queries)()
            warm_ms.append(timed(near.search, query, args.k)[1])
        for query in queries[WARMUP:]:
            exact.recent_queries = type(exact.recent_queries)()
            truth, ms = timed(exact.search, query, args.k)
            exact_ms.append(ms)
            got = found_near[query]
            recalls.append(len({r.image_id for r in got} & {r.image_id for r in truth}) / max(len(truth), 1))
        result["vector"] = {"ann_ms": stats(near_ms), "ann_words_fetched_ms": stats(warm_ms), "exact_ms": stats(exact_ms),
                            "recall_at_k": float(np.mean(recalls)), "recall_min": float(np.min(recalls))}  # fmt: skip
        print(f"vector search, k={args.k}: index p50 {result['vector']['ann_ms']['p50']:.1f} ms p95 "
              f"{result['vector']['ann_ms']['p95']:.1f} ms; exact p50 {result['vector']['exact_ms']['p50']:.1f} ms p95 "
              f"{result['vector']['exact_ms']['p95']:.1f} ms; recall@{args.k} {result['vector']['recall_at_k']:.3f} "
              f"(lowest {result['vector']['recall_min']:.1f}); the same queries again, their words' photos fetched: "
              f"p50 {result['vector']['ann_words_fetched_ms']['p50']:.1f} ms p95 {result['vector']['ann_words_fetched_ms']['p95']:.1f} ms")  # fmt: skip

        # The same, as `lucida search` prints and the web page asks (`why=false`): without saying
        # why each photo matched. A searcher of its own, so that it fetches each word itself.
        lean = Searcher(catalog, embedder, ranking="vector", exact=False, resident_index=resident)
        lean_ms, lean_warm_ms = [], []
        for timings in (lean_ms, lean_warm_ms):
            for query in queries[WARMUP:]:
                lean.recent_queries = type(lean.recent_queries)()
                got, ms = timed(lean.search, query, args.k, explain=False)
                timings.append(ms)
                if [r.image_id for r in got] != [r.image_id for r in found_near[query]]:
                    raise SystemExit(f"{query!r}: without why, other photos")
        result["vector_without_why"] = {"ann_ms": stats(lean_ms), "ann_words_fetched_ms": stats(lean_warm_ms)}
        print(f"  without why (as the CLI prints and the page asks): p50 {result['vector_without_why']['ann_ms']['p50']:.1f} ms "
              f"p95 {result['vector_without_why']['ann_ms']['p95']:.1f} ms; words fetched: p50 "
              f"{result['vector_without_why']['ann_words_fetched_ms']['p50']:.1f} ms p95 "
              f"{result['vector_without_why']['ann_words_fetched_ms']['p95']:.1f} ms")  # fmt: skip

        # The index alone: the nearest photos by cosine it finds (asked for ANN_DEPTH, scored
        # again exactly), against the exact nearest, without the answers-first order a search
        # adds (lucida.relevance).
        index, vectors = near._ann, near._index.vectors.vectors
        recalls = {}
        for depth in sorted({search.ANN_DEPTH, 10, 50} | {int(d) for d in args.depths.split(",") if d}):
            found_share = []
            for vector in embedder.embed_queries(queries[WARMUP:]):
                truth = np.argpartition(-np.einsum("nd,d->n", vectors, vector), args.k)[: args.k]
                rows = near._index.row_by_id[index.nearest(vector, depth)]
                rows = rows[rows >= 0]
                best = rows[np.argsort(-(vectors[rows] @ vector))[: args.k]]
                found_share.append(len(set(best.tolist()) & set(truth.tolist())) / args.k)
            recalls[depth] = float(np.mean(found_share))
            print(f"  the index alone, asked for {depth} neighbours: recall@{args.k} {recalls[depth]:.3f}")
        result["index_recall_by_depth"] = recalls

        for depth in [int(d) for d in args.depths.split(",") if d]:
            default, search.ANN_DEPTH = search.ANN_DEPTH, depth
            near_ms, recalls = [], []
            for query in queries[WARMUP:]:
                near.recent_queries = type(near.recent_queries)()
                got, ms = timed(near.search, query, args.k)
                near_ms.append(ms)
                truth = exact.search(query, args.k)
                recalls.append(len({r.image_id for r in got} & {r.image_id for r in truth}) / max(len(truth), 1))
            search.ANN_DEPTH = default
            result.setdefault("vector_by_depth", {})[depth] = {"ann_ms": stats(near_ms), "recall_at_k": float(np.mean(recalls))}
            print(f"  asking the index for {depth} neighbours: p50 {stats(near_ms)['p50']:.1f} ms p95 "
                  f"{stats(near_ms)['p95']:.1f} ms, recall@{args.k} {np.mean(recalls):.3f}")

        hybrid_near = Searcher(catalog, embedder, exact=False, resident_index=resident)
        hybrid_exact = Searcher(catalog, embedder, exact=True)
        for query in queries[:WARMUP]:
            hybrid_near.search(query, args.k, weak=False)
            hybrid_exact.search(query, args.k, weak=False)
        near_ms, exact_ms, same, found_hybrid = [], [], [], {}
        for query in queries[WARMUP:]:
            hybrid_near.recent_queries = type(hybrid_near.recent_queries)()
            found_hybrid[query], ms = timed(hybrid_near.search, query, args.k, weak=False)
            near_ms.append(ms)
        for query in queries[WARMUP:]:
            hybrid_exact.recent_queries = type(hybrid_exact.recent_queries)()
            truth, ms = timed(hybrid_exact.search, query, args.k, weak=False)
            exact_ms.append(ms)
            got = found_hybrid[query]
            same.append(len({r.image_id for r in got} & {r.image_id for r in truth}) / max(len(truth), 1) if truth else float(not got))
        result["hybrid"] = {"ann_ms": stats(near_ms), "exact_ms": stats(exact_ms), "answers_recall": float(np.mean(same))}
        print(f"hybrid search (answers), k={args.k}: index p50 {result['hybrid']['ann_ms']['p50']:.1f} ms p95 "
              f"{result['hybrid']['ann_ms']['p95']:.1f} ms; exact p50 {result['hybrid']['exact_ms']['p50']:.1f} ms; "
              f"share of exact's answers found {result['hybrid']['answers_recall']:.3f}")  # fmt: skip

        # As a search through lucida.library runs it: the filter's SQL, then the ranking of the
        # photos that pass, timed together for every query. The catalog keeps a filter's answer
        # until the next write; forgotten before each query here, so every one pays the SQL, as
        # a filter asked for the first time does.
        camera = parse_filter(camera="fujifilm x100v")
        near_ms, sql_ms, equal = [], [], 0
        for query in queries[WARMUP : WARMUP + 50]:
            catalog._filtered.clear()
            only, ms_sql = timed(catalog.filtered_image_ids, camera)
            got, ms = timed(near.search, query, args.k, only=only)
            near_ms.append(ms_sql + ms)
            sql_ms.append(ms_sql)
            truth = exact.search(query, args.k, only=only)
            equal += [r.image_id for r in got] == [r.image_id for r in truth]
        result["filtered"] = {"passing": len(only), "share": len(only) / size, "ann_ms": stats(near_ms),
                              "identical_to_exact": equal, "queries": len(near_ms), "filter_sql_ms": stats(sql_ms)}  # fmt: skip
        print(f"filtered search ({len(only)} photos pass, {100 * len(only) / size:.2f}%), the filter's SQL included: p50 "
              f"{result['filtered']['ann_ms']['p50']:.1f} ms p95 {result['filtered']['ann_ms']['p95']:.1f} ms "
              f"(the SQL alone p50 {result['filtered']['filter_sql_ms']['p50']:.1f} ms), identical to exact for "
              f"{equal}/{len(near_ms)} queries")

        # An update after `changes` photos changed: their vectors removed and added again, as
        # when 10,000 new photos arrive (the same work for the graph).
        stored = near._index.vectors
        rng = np.random.default_rng(args.seed)
        changed = np.sort(rng.choice(stored.image_ids, size=min(args.changes, len(stored.image_ids)), replace=False))
        current = ann_index.AnnIndex.open(folder)
        _, result["update_ms"] = timed(
            ann_index.update, folder, stored.image_ids, stored.vectors, current.generation + 1, changed
        )
        print(f"update after {len(changed)} changed photos: {result['update_ms'] / 1000:.1f} s")
        # Back to the catalog's own generation, so that later runs see a current index.
        latest = ann_index.AnnIndex.open(folder)
        for written in (latest.path, latest.path.with_suffix(ann_index._PLACEMENT)):
            if written.exists():
                written.rename(written.with_name(f"{current.generation:020d}{written.suffix}"))
        result["index_file_mb"] = sum(p.stat().st_size for p in folder.glob(f"*{ann_index._SUFFIX}")) / 1e6
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"index file {result['index_file_mb']:.0f} MB; peak RSS of this process {result['peak_rss_mb']:.0f} MB")
    write_out(args.out, result)


if __name__ == "__main__":
    main()
