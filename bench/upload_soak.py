"""Soak of `lucida serve`'s photo upload (POST /api/search/image) with hostile files, while
ordinary searches go on: does the server's memory and temporary disk stay bounded?

The catalog is SYNTHETIC (see search_latency.py): N photos (default 2,000) with ImageNet-style
descriptions and random vectors. The server is the real `lucida serve` in its own process (its
TMPDIR a fresh folder, so the uploads it spools can be measured), with the real models. C upload
clients (default 20) post, in turn:

  * a 49 MP 1-bit PNG (7000x7000, ~6 KB): just under the uploads' 50 MP limit, decoded and described;
  * a 240 MP 1-bit PNG (16000x15000, ~30 KB): over it (under the library's 250 MP), refused 413;
  * a 35 MB body, over the 30 MB upload limit, refused 413;

while 2 more clients run ordinary /api/search?q=... requests. Every 0.5 s the server's RSS (from
/proc/PID/status) and the size of its temporary folder are sampled.

Reports the server's idle RSS (after a warm-up upload has loaded the describer), its peak RSS
above idle, its RSS at the end, the peak temporary disk use, whether the server is alive at the
end, the searches' count and p50/p95, and every answer by status or transport error.

    HF_HUB_OFFLINE=1 python bench/upload_soak.py                  # 20 upload clients, 60 s
    HF_HUB_OFFLINE=1 python bench/upload_soak.py -c 20 -d 60 --out soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import struct
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx

from _common import load_average, machine, percentile, print_machine, process_memory_mb, write_out
from search_latency import fill_catalog, make_queries
from serve_load import free_port, start_server


def png_bomb(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of width x height: tiny on disk (as tests/conftest.py)."""
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def warm_photo() -> bytes:
    from PIL import Image

    image = Image.radial_gradient("L").resize((640, 480)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def rss_mb(pid: int) -> float | None:
    try:
        return process_memory_mb(pid, "VmRSS").get("VmRSS")
    except OSError:
        return None


def disk_mb(folder: Path) -> float:
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass  # deleted while walking
    return total / 2**20


class Sampler(threading.Thread):
    def __init__(self, pid: int, tmpdir: Path, every: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.tmpdir, self.every = pid, tmpdir, every
        self.rss: list[float] = []
        self.disk: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            rss = rss_mb(self.pid)
            if rss is not None:
                self.rss.append(rss)
            self.disk.append(disk_mb(self.tmpdir))
            self.stop.wait(self.every)


async def soak(base: str, queries: list[str], clients: int, searchers: int, seconds: float) -> dict:
    under, over, huge = png_bomb(7000, 7000), png_bomb(16000, 15000), b"\xff" * (35 * 2**20)
    kinds = [("bomb_49mp", "under.png", under), ("bomb_240mp", "over.png", over), ("body_35mb", "big.jpg", huge)]
    answers: dict[str, dict[str, int]] = {name: {} for name, _, _ in kinds}
    latencies: list[float] = []
    search_errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients + searchers, max_keepalive_connections=clients + searchers)
    stop_at = time.monotonic() + seconds

    def count(table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def uploader(number: int) -> None:
            i = number
            while time.monotonic() < stop_at:
                name, filename, data = kinds[i % len(kinds)]
                i += 1
                try:
                    response = await client.post("/api/search/image", files={"file": (filename, data)}, params={"k": 5})
                    count(answers[name], f"HTTP {response.status_code}")
                except httpx.HTTPError as error:
                    count(answers[name], type(error).__name__)

        async def searcher(number: int) -> None:
            i = number
            while time.monotonic() < stop_at:
                query = f"{queries[i % len(queries)]} (#{i})"
                i += searchers
                began = time.perf_counter()
                try:
                    response = await client.get("/api/search", params={"q": query, "k": 20})
                    if response.status_code == 200:
                        latencies.append((time.perf_counter() - began) * 1000)
                    else:
                        count(search_errors, f"HTTP {response.status_code}")
                except httpx.HTTPError as error:
                    count(search_errors, type(error).__name__)

        began = time.monotonic()
        await asyncio.gather(*(uploader(n) for n in range(clients)), *(searcher(n) for n in range(searchers)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "elapsed_s": elapsed,
        "uploads": answers,
        "searches": len(latencies),
        "search_p50_ms": percentile(latencies, 50),
        "search_p95_ms": percentile(latencies, 95),
        "search_max_ms": latencies[-1] if latencies else None,
        "search_errors": search_errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=2_000, help="photos in the synthetic catalog")
    parser.add_argument("-c", "--clients", type=int, default=20, help="concurrent upload clients")
    parser.add_argument("-s", "--searchers", type=int, default=2, help="concurrent ordinary search clients")
    parser.add_argument("-d", "--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between RSS/disk samples")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()

    facts = machine()
    print_machine(facts)
    temp = Path(tempfile.mkdtemp(prefix="lucida-bench-soak-"))
    server_tmp = temp / "server-tmp"
    server_tmp.mkdir()
    server = None
    try:
        db = temp / "catalog.db"
        fill_catalog(db, args.photos, 384, args.seed)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(db, port, {"TMPDIR": str(server_tmp)})
        # Warm-up: one search and one real upload load the embedder and the describer; idle is after.
        with httpx.Client(base_url=base, timeout=300) as warm:
            warm.get("/api/search", params={"q": "a dog on a beach"}).raise_for_status()
            response = warm.post("/api/search/image", files={"file": ("warm.jpg", warm_photo())})
            assert response.status_code == 200, response.text
        time.sleep(1)
        idle = rss_mb(server.pid)
        print(f"server idle (models loaded): {idle:.0f} MB RSS")
        sampler = Sampler(server.pid, server_tmp, args.every)
        sampler.start()
        load_before = load_average()
        try:
            stats = asyncio.run(
                soak(base, make_queries(400, args.seed), args.clients, args.searchers, args.duration)
            )
        finally:
            time.sleep(2)  # the last requests' memory settles
            sampler.stop.set()
            sampler.join(10)
        alive = server.poll() is None
        end = rss_mb(server.pid) if alive else None
        load_after = load_average()
        result = {
            "benchmark": "upload_soak",
            "synthetic_catalog": True,
            "machine": facts,
            "photos": args.photos,
            "upload_clients": args.clients,
            "search_clients": args.searchers,
            "idle_rss_mb": idle,
            "peak_rss_mb": max(sampler.rss),
            "peak_rss_above_idle_mb": max(sampler.rss) - idle,
            "end_rss_mb": end,
            "rss_samples": len(sampler.rss),
            "peak_tmp_disk_mb": max(sampler.disk),
            "server_alive_at_end": alive,
            "load_average_before": load_before,
            "load_average_after": load_after,
            **stats,
        }
        print(
            f"{args.clients} upload + {args.searchers} search clients x {stats['elapsed_s']:.0f} s: "
            f"peak RSS {result['peak_rss_mb']:.0f} MB = idle + {result['peak_rss_above_idle_mb']:.0f} MB, "
            f"at the end {end if end is None else round(end)} MB; peak temp disk {result['peak_tmp_disk_mb']:.1f} MB; "
            f"server alive: {alive}"
        )
        print(f"uploads by kind and answer: {stats['uploads']}")
        print(
            f"searches: {stats['searches']}, p50 {stats['search_p50_ms']:.0f} ms, p95 {stats['search_p95_ms']:.0f} ms, "
            f"max {stats['search_max_ms'] or float('nan'):.0f} ms; errors: {stats['search_errors'] or 'none'} "
            f"(load average before {load_before}, after {load_after})"
        )
        write_out(args.out, result)
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
