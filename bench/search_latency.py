"""Search latency over a 100,000-photo catalog with the real query embedder loaded.

The catalog is SYNTHETIC: 100,000 images, each with an ImageNet-style description (the classes
of a random class distribution, written out the way the default describer writes them), a
random 384-dimensional unit vector as its all-minilm-l6-v2 embedding, and one file path. It is
filled through the Catalog API. The real embedder embeds the queries, so query embedding costs
what it costs in use; the scores themselves are meaningless (random vectors).

Times `Searcher.search(query, k)` for each of Q realistic photo queries after a warm-up, and
reports p50/p95/p99/mean, plus the one-time load of the vectors into memory.

    HF_HUB_OFFLINE=1 python bench/search_latency.py                     # 100,000 photos, 200 queries
    HF_HUB_OFFLINE=1 python bench/search_latency.py --catalog /tmp/100k.db   # build once, reuse
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import load_average, machine, percentile, print_machine, write_out

SUBJECTS = [
    "a dog", "a cat", "two children", "my grandmother", "a red car", "a bicycle", "a sailboat",
    "a horse", "a birthday cake", "a wedding couple", "a mountain lake", "an old church",
    "a lighthouse", "a plate of pasta", "a cup of coffee", "a snowman", "a steam train",
    "a city skyline", "a waterfall", "a field of sunflowers", "a tent", "a guitar player",
    "a soccer match", "a fishing boat", "a parrot", "a motorcycle", "a christmas tree",
    "a bridge", "a beach umbrella", "fireworks", "a rainbow", "a castle", "a cow", "a tractor",
    "a hot air balloon", "a kayak", "a market stall", "a laptop on a desk", "a baby", "a pizza",
]
SETTINGS = [
    "on the beach", "in the snow", "at sunset", "in the rain", "at night", "in a park",
    "in the mountains", "in the kitchen", "in the garden", "on a street", "by a lake",
    "in autumn", "close up", "from above", "in black and white",
]
WARMUP = 10


def make_queries(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    pairs = [(s, p) for s in SUBJECTS for p in SETTINGS]
    chosen = rng.permutation(len(pairs))[:count]
    queries = []
    for i, index in enumerate(chosen):
        subject, setting = pairs[index]
        queries.append(subject if i % 4 == 0 else f"{subject} {setting}")  # some bare, most with a setting
    return queries


def fill_catalog(db: Path, photos: int, dim: int, seed: int) -> None:
    from lucida.catalog import Catalog
    from lucida.catalog.store import ACTIVE_DESCRIBER, ACTIVE_EMBEDDER
    from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER
    from lucida.models.imagenet import describe_classes, load_imagenet_classes

    classes = load_imagenet_classes()
    rng = np.random.default_rng(seed)
    with Catalog.open(db) as catalog:
        with catalog.transaction():
            catalog.set_setting(ACTIVE_DESCRIBER, DEFAULT_DESCRIBER)
            catalog.set_setting(ACTIVE_EMBEDDER, DEFAULT_EMBEDDER)
        for start in range(0, photos, 5000):
            count = min(5000, photos - start)
            vectors = rng.standard_normal((count, dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            with catalog.transaction():
                for offset in range(count):
                    i = start + offset
                    description = describe_classes(rng.dirichlet(np.full(1000, 0.01)), classes)
                    image_id = catalog.add_image(f"{i:064x}", 4000, 3000, None)
                    description_id = catalog.put_description(
                        image_id, DEFAULT_DESCRIBER, "", description.text, description.details
                    )
                    catalog.put_embedding(description_id, DEFAULT_EMBEDDER, vectors[offset])
                    path = f"/photos/{2000 + i // 5000}/{i // 100:04d}/IMG_{i:06d}.jpg"
                    catalog.put_file(path, 3_000_000, i, image_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000, help="photos in the synthetic catalog")
    parser.add_argument("-q", "--queries", type=int, default=200, help="timed queries (after a warm-up)")
    parser.add_argument("-k", type=int, default=20, help="results per query (the CLI's default is 20)")
    parser.add_argument("--catalog", help="build the catalog here once and reuse it (default: a temp file)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--ranking", default="hybrid", choices=["hybrid", "vector"], help="lucida search --ranking")
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()

    from lucida.catalog import Catalog
    from lucida.models import DEFAULT_EMBEDDER, load_embedder
    from lucida.search import Searcher

    temp = Path(tempfile.mkdtemp(prefix="lucida-bench-search-"))
    try:
        db = Path(args.catalog) if args.catalog else temp / "catalog.db"
        if not db.exists():
            began = time.perf_counter()
            fill_catalog(db, args.photos, 384, args.seed)
            filled_s = time.perf_counter() - began
            print(f"synthetic catalog: {args.photos} photos filled through the Catalog API in {filled_s:.1f} s")
        else:
            print(f"synthetic catalog: reusing {db}")

        began = time.perf_counter()
        embedder = load_embedder(DEFAULT_EMBEDDER)
        load_s = time.perf_counter() - began
        facts = machine()
        print_machine(facts)

        with Catalog.open(db, create=False) as catalog:
            searcher = Searcher(catalog, embedder, ranking=args.ranking)
            began = time.perf_counter()
            size = searcher.size  # loads the vectors
            vectors_s = time.perf_counter() - began
            if size != args.photos and not args.catalog:
                raise SystemExit(f"expected {args.photos} searchable photos, found {size}")
            print(f"embedder load {load_s:.2f} s; one-time vector load: {size} vectors in {vectors_s:.3f} s")

            queries = make_queries(args.queries + WARMUP, args.seed)
            for query in queries[:WARMUP]:
                searcher.search(query, args.k)
            load_before = load_average()
            latencies, embed_ms = [], []
            for query in queries[WARMUP:]:
                began = time.perf_counter()
                results = searcher.search(query, args.k)
                latencies.append((time.perf_counter() - began) * 1000)
                if len(results) != min(args.k, size):
                    raise SystemExit(f"{query!r}: {len(results)} results, expected {min(args.k, size)}")
            # The query-embedding share of it, measured apart on the same queries.
            for query in queries[WARMUP:]:
                began = time.perf_counter()
                embedder.embed_queries([query])
                embed_ms.append((time.perf_counter() - began) * 1000)

        ordered, embed_ordered = sorted(latencies), sorted(embed_ms)
        stats = {
            "p50": percentile(ordered, 50),
            "p95": percentile(ordered, 95),
            "p99": percentile(ordered, 99),
            "mean": float(np.mean(ordered)),
            "min": ordered[0],
            "max": ordered[-1],
        }
        embed_stats = {"p50": percentile(embed_ordered, 50), "p95": percentile(embed_ordered, 95)}
        print(
            f"search ({args.ranking}) over {size} photos, k={args.k}, {len(latencies)} queries "
            f"(1-min load average before: {load_before}): "
            f"p50 {stats['p50']:.1f} ms, p95 {stats['p95']:.1f} ms, p99 {stats['p99']:.1f} ms, "
            f"mean {stats['mean']:.1f} ms (min {stats['min']:.1f}, max {stats['max']:.1f})"
        )
        print(f"  of which query embedding alone: p50 {embed_stats['p50']:.1f} ms, p95 {embed_stats['p95']:.1f} ms")
        met = stats["p50"] < 30 and stats["p95"] < 60
        print("targets p50 < 30 ms and p95 < 60 ms: " + ("met" if met else "MISSED"))
        write_out(
            args.out,
            {
                "benchmark": "search_latency",
                "synthetic_catalog": True,
                "machine": facts,
                "photos": size,
                "ranking": args.ranking,
                "k": args.k,
                "queries": len(latencies),
                "embedder_load_s": load_s,
                "vector_load_s": vectors_s,
                "latency_ms": stats,
                "query_embedding_ms": embed_stats,
                "load_average_before": load_before,
            },
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
