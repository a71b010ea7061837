"""Load on `lucida serve`: C concurrent clients for D seconds on loopback against /api/search.

The catalog is SYNTHETIC (see search_latency.py): N photos (default 10,000) with ImageNet-style
descriptions and random unit vectors as their all-minilm-l6-v2 embeddings. The server is the real
`lucida serve` in its own process with the real models loaded; each request embeds its query,
ranks all N photos and returns the top k with thumbnail URLs. The clients (httpx, asyncio) run
in this process, so on a small machine they share the cores with the server, as a browser would.

Every request carries words never searched before (a realistic query plus a request number), so
the server's cache of recent query vectors never answers and every search embeds its query;
`--repeat-queries` cycles through 400 queries instead, as paging and repeated searches would.
`--without-why` asks as the web page does (why=false: it says why in a photo's detail view).

Reports requests per second and p50/p95/p99 latency of /api/search as the clients saw it, every
non-200 answer or transport error, and the CPU the server and the load generator used (in cores).

`--generator wrk` sends the same requests with wrk (Debian's package, `make bench-deps`; C, one
thread, a Lua script written here) instead of the Python clients, which spend about 1 ms of CPU a
request on the cores the server needs; wrk spends a few hundredths of that. Both are closed-loop:
each connection sends its next request when the answer has come.

    HF_HUB_OFFLINE=1 python bench/serve_load.py                   # 10,000 photos, 20 clients, 60 s
    HF_HUB_OFFLINE=1 python bench/serve_load.py -c 20 -d 60 --photos 10000
    HF_HUB_OFFLINE=1 python bench/serve_load.py -c 20 -d 30 --without-why --generator wrk
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _common import load_average, machine, percentile, print_machine, write_out
from search_latency import fill_catalog, make_queries


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(db: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The real `lucida serve` in its own process, once it answers; `env` adds to its environment."""
    server = subprocess.Popen(
        [sys.executable, "-m", "lucida", "--db", str(db), "serve", "--port", str(port)],
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"lucida serve exited: {server.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("lucida serve did not answer within 120 s")


async def load(
    base: str, queries: list[str], clients: int, seconds: float, k: int, repeat: bool, why: bool = True
) -> tuple[list[float], dict, float]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one_client(number: int, stop_at: float, first: int = 0) -> None:
            i = first + number
            while time.monotonic() < stop_at:
                query = queries[i % len(queries)] if repeat else f"{queries[i % len(queries)]} (#{i})"
                i += clients
                began = time.perf_counter()
                try:
                    params = {"q": query, "k": k} if why else {"q": query, "k": k, "why": "false"}
                    response = await client.get("/api/search", params=params)
                    elapsed = time.perf_counter() - began
                    if response.status_code == 200:
                        latencies.append(elapsed * 1000)
                    else:
                        errors[f"HTTP {response.status_code}"] = errors.get(f"HTTP {response.status_code}", 0) + 1
                except httpx.HTTPError as error:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1

        # Warm-up: two seconds of the same load, not counted, with request numbers of its own, so
        # that no timed request repeats a warm-up query (the server would have its vector).
        await asyncio.gather(*(one_client(n, time.monotonic() + 2, WARM_UP_FIRST) for n in range(clients)))
        latencies.clear()
        errors.clear()
        began = time.monotonic()
        await asyncio.gather(*(one_client(n, began + seconds) for n in range(clients)))
        elapsed = time.monotonic() - began
    return latencies, errors, elapsed


# The warm-up's request numbers start here: the timed run's start at 0 and never reach it.
WARM_UP_FIRST = 10_000_000

# wrk's side: the same queries and parameters, the counters printed as one JSON line at the end.
WRK_SCRIPT = """
local queries = {}
for line in io.lines(QUERIES) do queries[#queries + 1] = line end
local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
local n = tonumber(os.getenv("LUCIDA_WRK_FIRST") or "0")
request = function()
  local query = queries[(n % #queries) + 1]
  if not REPEAT then query = query .. " (#" .. n .. ")" end
  n = n + 1
  return wrk.format("GET", "/api/search?q=" .. encode(query) .. "&k=" .. K .. WHY)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_load(
    base: str, queries: list[str], clients: int, seconds: float, k: int, repeat: bool, why: bool, folder: Path,
    server_pid: int,
) -> tuple[dict, float, float]:
    """The load through wrk: (its counters, its CPU seconds, the server's CPU seconds), over the
    timed run; a warm-up of 2 s before it is not counted."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("--generator wrk needs wrk on PATH: `make bench-deps` installs it (Debian's package)")
    listed = folder / "queries.txt"
    listed.write_text("\n".join(queries) + "\n")
    script = folder / "load.lua"
    settings = {"QUERIES": json.dumps(str(listed)), "REPEAT": "true" if repeat else "false", "K": str(k)}
    settings["WHY"] = json.dumps("" if why else "&why=false")
    script.write_text("".join(f"local {name} = {value}\n" for name, value in settings.items()) + WRK_SCRIPT)

    def run(duration: float, first: int = 0) -> str:
        command = [wrk, "-t1", f"-c{clients}", f"-d{duration:g}s", "--timeout", "30s", "-s", str(script), base]
        environment = {**os.environ, "LUCIDA_WRK_FIRST": str(first)}
        return subprocess.run(command, capture_output=True, text=True, check=True, env=environment).stdout

    run(2, WARM_UP_FIRST)
    before, server_before = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(server_pid)
    output = run(seconds)
    after, server_after = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(server_pid)
    counters = json.loads(output.strip().splitlines()[-1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return counters, cpu, server_after - server_before


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=10_000, help="photos in the synthetic catalog")
    parser.add_argument("-c", "--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("-d", "--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("-k", type=int, default=20, help="results per search")
    parser.add_argument("--repeat-queries", action="store_true", help="cycle through 400 queries (cache hits)")
    parser.add_argument(
        "--without-why", action="store_true", help="ask as the web page does: why=false (it shows why in the detail view)"
    )
    parser.add_argument(
        "--generator", choices=["httpx", "wrk"], default="httpx", help="the load generator (see above; default httpx)"
    )
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()

    facts = machine()
    print_machine(facts)
    temp = Path(tempfile.mkdtemp(prefix="lucida-bench-serve-"))
    server = None
    try:
        db = temp / "catalog.db"
        began = time.perf_counter()
        fill_catalog(db, args.photos, 384, args.seed)
        print(f"synthetic catalog: {args.photos} photos in {time.perf_counter() - began:.1f} s")
        port = free_port()
        began = time.perf_counter()
        server = start_server(db, port)
        print(f"lucida serve answering after {time.perf_counter() - began:.1f} s (models loaded)")
        queries = make_queries(400, args.seed)
        load_before = load_average()
        if args.generator == "wrk":
            counters, generator_cpu, server_cpu = wrk_load(
                f"http://127.0.0.1:{port}", queries, args.clients, args.duration, args.k, args.repeat_queries,
                not args.without_why, temp, server.pid,
            )  # fmt: skip
            elapsed = counters["duration_us"] / 1e6
            # wrk counts a non-2xx answer as a request, and in `status` too.
            answered = counters["requests"] - counters["status"]
            errors = {name: counters[name] for name in ("connect", "read", "write", "status", "timeout") if counters[name]}
            stats = {
                "requests": answered,
                "requests_per_s": answered / elapsed,
                **{f"p{q}_ms": counters[f"p{q}_us"] / 1000 for q in (50, 95, 99)},
                "max_ms": counters["max_us"] / 1000,
                "errors": errors,
            }
            busy_seconds = elapsed
        else:
            server_cpu_before = cpu_seconds(server.pid)
            generator_before = resource.getrusage(resource.RUSAGE_SELF)
            began_all = time.monotonic()
            latencies, errors, elapsed = asyncio.run(
                load(
                    f"http://127.0.0.1:{port}", queries, args.clients, args.duration, args.k, args.repeat_queries,
                    not args.without_why,
                )  # fmt: skip
            )
            busy_seconds = time.monotonic() - began_all  # the warm-up's 2 s included
            generator_after = resource.getrusage(resource.RUSAGE_SELF)
            generator_cpu = (generator_after.ru_utime + generator_after.ru_stime) - (
                generator_before.ru_utime + generator_before.ru_stime
            )
            server_cpu = cpu_seconds(server.pid) - server_cpu_before
            latencies.sort()
            stats = {
                "requests": len(latencies),
                "requests_per_s": len(latencies) / elapsed,
                "p50_ms": percentile(latencies, 50),
                "p95_ms": percentile(latencies, 95),
                "p99_ms": percentile(latencies, 99),
                "max_ms": latencies[-1] if latencies else None,
                "errors": errors,
            }
        # Cores busy: over wrk's timed run; with the Python clients, over their warm-up and run.
        stats["server_cores"] = server_cpu / busy_seconds
        stats["generator_cores"] = generator_cpu / busy_seconds
        print(
            f"{args.clients} clients x {elapsed:.0f} s: {stats['requests']} searches, "
            f"{stats['requests_per_s']:.1f} req/s; p50 {stats['p50_ms']:.1f} ms, p95 {stats['p95_ms']:.1f} ms, "
            f"p99 {stats['p99_ms']:.1f} ms, max {stats['max_ms']:.1f} ms; errors: {errors or 'none'}; "
            f"CPU: server {stats['server_cores']:.2f} cores, {args.generator} {stats['generator_cores']:.2f} "
            f"(load average before: {load_before})"
        )
        write_out(
            args.out,
            {
                "benchmark": "serve_load",
                "synthetic_catalog": True,
                "machine": facts,
                "photos": args.photos,
                "clients": args.clients,
                "duration_s": elapsed,
                "k": args.k,
                "repeat_queries": args.repeat_queries,
                "why": not args.without_why,
                "generator": args.generator,
                "load_average_before": load_before,
                **stats,
            },
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
