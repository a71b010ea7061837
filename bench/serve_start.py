"""How soon `lucida serve` answers on an existing catalog, and the memory it holds once it has.

Starts the real `lucida serve` on CATALOG (its own process, HF_HUB_OFFLINE=1), asks /api/search
until a search is answered, and reports the seconds from the command's start to that first
answer (issue 15: "ready in ≤ 5 s" at a million photos). Then N searches one after another, each
with new words, as the API answers by default (hybrid ranking, `why`, k 20), their latency over
HTTP, and the server's memory from /proc: peak RSS, and now its anonymous part and its mapped
files' part (pages of the vectors, the class table and the index that the kernel can drop and
read again).

    HF_HUB_OFFLINE=1 python bench/serve_start.py --catalog /tmp/syn1m.db -n 100
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import httpx

from _common import load_average, machine, percentile, print_machine, process_memory_mb, write_out
from search_latency import make_queries
from serve_load import free_port


def memory(pid: int) -> dict[str, float]:
    """The process's VmHWM, VmRSS, RssAnon and RssFile in GB."""
    return {name: mb / 1024 for name, mb in process_memory_mb(pid, "VmHWM", "VmRSS", "RssAnon", "RssFile").items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", required=True, help="an existing catalog (e.g. from bench/synthetic_catalog.py)")
    parser.add_argument("-n", "--searches", type=int, default=100, help="searches after the first")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out")
    args = parser.parse_args()

    facts = machine()
    print_machine(facts)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    result: dict = {"benchmark": "serve_start", "machine": facts, "catalog": args.catalog, "load_average_before": load_average()}
    began = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "lucida", "--db", args.catalog, "serve", "--port", str(port)],
        env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"lucida serve exited: {server.stderr.read()}")
                try:
                    if client.get("/api/search", params={"q": "a red car", "k": 20}).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            result["first_answer_s"] = time.perf_counter() - began
            print(f"first search answered {result['first_answer_s']:.2f} s after `lucida serve` started")
            latencies = []
            for query in make_queries(args.searches, args.seed):
                started = time.perf_counter()
                response = client.get("/api/search", params={"q": query, "k": 20})
                response.raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        result["search_ms"] = {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "max": latencies[-1]}
        result["memory_gb"] = memory(server.pid)
    finally:
        server.terminate()
        server.wait()
    mem = result["memory_gb"]
    print(f"{args.searches} searches one after another (hybrid, why, k 20): p50 {result['search_ms']['p50']:.1f} ms, "
          f"p95 {result['search_ms']['p95']:.1f} ms; server memory: peak RSS {mem['VmHWM']:.2f} GB, now "
          f"{mem['VmRSS']:.2f} GB ({mem['RssAnon']:.2f} anonymous, {mem['RssFile']:.2f} mapped files)")  # fmt: skip
    write_out(args.out, result)


if __name__ == "__main__":
    main()
