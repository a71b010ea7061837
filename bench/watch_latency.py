"""`lucida watch`: how soon a photo that lands in a watched folder is searchable, and how a bulk
copy of 1,000 small photos (and then a move of their folder) goes through.

The watch runs as the real command, `lucida --db CATALOG watch LIBRARY`, in a subprocess; this
script copies files into the library and polls the catalog from a second SQLite connection, as a
search beside the watch would. A file counts as searchable once its row is in `files`: the
indexer commits a file together with its description and vector.

  * Landing: a new 640x480 JPEG (a sample photo with noise, so its content is new and must be
    described) is copied into the library; the time from the start of the copy until it is
    searchable. Then the same file is renamed: the time until the new name is searchable (no
    describing). After each, the script waits for the pass to finish before the next landing.
  * Bulk copy: 1,000 new, distinct 96x72 JPEGs are copied in as one folder (`shutil.copytree`,
    as `cp -r` would); the time until all are searchable, the number of index passes, and the
    watch process's peak memory. Then the folder is renamed: the time until all 1,000 files are
    under their new paths, and the number described again (must be 0).

The library may also hold an already indexed synthetic library (`--library-files`, the
catalog filled as bench/rerun_unchanged.py does), since each pass checks every catalogued path.

    HF_HUB_OFFLINE=1 python bench/watch_latency.py                       # 10 landings, 1 bulk copy
    HF_HUB_OFFLINE=1 python bench/watch_latency.py --library-files 10000 --bulk-repeat 2
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import load_average, machine, percentile, print_machine, process_memory_mb, spread, write_out

PASS_LINE = re.compile(r"^watch: (.*?): (\d+) described, (\d+) moved or copied .*?, (\d+) removed, (\d+) skipped")


class Watch:
    """The command in a subprocess, its stderr lines collected by a thread."""

    def __init__(self, db: Path, library: Path):
        lucida = Path(sys.executable).with_name("lucida")
        command = [str(lucida) if lucida.exists() else "lucida", "--db", str(db), "watch", str(library)]
        self.command = command
        self.process = subprocess.Popen(
            command, env=os.environ | {"HF_HUB_OFFLINE": "1"}, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True)
        self._reader.start()

    def passes(self) -> list[re.Match]:
        return [m for m in map(PASS_LINE.match, list(self.lines)) if m]

    def wait_for_passes(self, count: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while len(self.passes()) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                sys.exit("the watch stopped or stalled:\n" + "".join(self.lines))
            time.sleep(0.01)

    def wait_for_files(self, since: int, count: int, timeout: float = 600) -> list[re.Match]:
        """The passes after the first `since`, once they have described or reused `count` files."""
        deadline = time.monotonic() + timeout
        while sum(int(m[2]) + int(m[3]) for m in self.passes()[since:]) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                sys.exit("the watch stopped or stalled:\n" + "".join(self.lines))
            time.sleep(0.01)
        return self.passes()[since:]

    def peak_rss_mb(self) -> float:
        return process_memory_mb(self.process.pid, "VmHWM").get("VmHWM", float("nan"))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self._reader.join(10)
        return code


def indexed_count(db: Path, prefix: str) -> int:
    with sqlite3.connect(db, timeout=30) as reader:
        return reader.execute(
            "SELECT count(*) FROM files WHERE path >= ? AND path < ?", (prefix, prefix + "\uffff")
        ).fetchone()[0]


def wait_indexed(db: Path, prefix: str, count: int, timeout: float = 1800) -> float:
    """Seconds (perf_counter) at which `count` files under `prefix` were in the catalog."""
    deadline = time.monotonic() + timeout
    while indexed_count(db, prefix) < count:
        if time.monotonic() > deadline:
            sys.exit(f"timed out: {indexed_count(db, prefix)}/{count} under {prefix}")
        time.sleep(0.005)
    return time.perf_counter()


def noisy_photos(folder: Path, count: int, size: tuple[int, int], seed: int) -> list[Path]:
    """`count` distinct JPEGs (sample photos with noise) of `size` pixels."""
    from lucida.samples import SAMPLE_PHOTOS

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = [np.asarray(Image.fromarray(s.load()).convert("RGB").resize(size), dtype=np.int16) for s in SAMPLE_PHOTOS]
    written = []
    for i in range(count):
        pixels = np.clip(sources[i % len(sources)] + rng.integers(-12, 13, size=sources[0].shape), 0, 255)
        buffer = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8)).save(buffer, "JPEG", quality=85)
        path = folder / f"IMG_{seed:03d}_{i:05d}.jpg"
        path.write_bytes(buffer.getvalue())
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landings", type=int, default=10, help="photos landed one at a time (default 10)")
    parser.add_argument("--bulk", type=int, default=1000, help="photos in the bulk copy (default 1,000)")
    parser.add_argument("--bulk-repeat", type=int, default=1, help="bulk copies, each of new photos")
    parser.add_argument("--library-files", type=int, default=0, help="indexed photos already in the library")
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()

    temp = Path(tempfile.mkdtemp(prefix="lucida-bench-watch-"))
    try:
        library, staging, db = temp / "photos", temp / "staging", temp / "catalog.db"
        library.mkdir()
        if args.library_files:
            from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER
            from rerun_unchanged import fill_catalog, make_library

            files = make_library(library / "indexed", args.library_files, seed=7)
            fill_catalog(db, files, 7, DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, dim=384)
            print(f"library: {len(files)} photos already indexed (synthetic catalog, as in rerun_unchanged.py)")
        facts = machine()
        print_machine(facts)

        watch = Watch(db, library)
        watch.wait_for_passes(1)
        # The first photo loads the models (not counted below).
        warm = noisy_photos(staging / "warm", 1, (640, 480), seed=1)[0]
        began = time.perf_counter()
        shutil.copy(warm, library / warm.name)
        warm_s = wait_indexed(db, str(library / warm.name), 1) - began
        watch.wait_for_passes(2)
        print(f"first landing, with model loading: {warm_s:.2f} s")

        landing_s, rename_s, loads = [], [], []
        described_again = 0
        for i, photo in enumerate(noisy_photos(staging / "landings", args.landings, (640, 480), seed=2)):
            loads.append(load_average())
            passes = len(watch.passes())
            began = time.perf_counter()
            shutil.copy(photo, library / photo.name)
            landing_s.append(wait_indexed(db, str(library / photo.name), 1) - began)
            watch.wait_for_passes(passes + 1)
            renamed = library / f"renamed_{photo.name}"
            began = time.perf_counter()
            os.rename(library / photo.name, renamed)
            rename_s.append(wait_indexed(db, str(renamed), 1) - began)
            watch.wait_for_passes(passes + 2)
            described_again += int(watch.passes()[-1][2])
            print(f"landing {i + 1}/{args.landings}: searchable after {landing_s[-1]:.2f} s; renamed: {rename_s[-1]:.2f} s")

        bulk = []
        for r in range(args.bulk_repeat):
            photos = noisy_photos(staging / f"bulk{r}", args.bulk, (96, 72), seed=10 + r)
            passes_before = len(watch.passes())
            load_before = load_average()
            began = time.perf_counter()
            shutil.copytree(staging / f"bulk{r}", library / f"bulk{r}")
            copied_s = time.perf_counter() - began
            all_s = wait_indexed(db, str(library / f"bulk{r}") + os.sep, len(photos)) - began
            bulk_passes = watch.wait_for_files(passes_before, len(photos))
            passes_before = len(watch.passes())
            began = time.perf_counter()
            os.rename(library / f"bulk{r}", library / f"moved{r}")
            move_s = wait_indexed(db, str(library / f"moved{r}") + os.sep, len(photos)) - began
            move_passes = watch.wait_for_files(passes_before, len(photos))
            run = {
                "photos": len(photos),
                "copy_s": copied_s,
                "all_searchable_s": all_s,
                "photos_per_s": len(photos) / all_s,
                "passes": len(bulk_passes),
                "described": sum(int(m[2]) for m in bulk_passes),
                "move_all_searchable_s": move_s,
                "move_passes": len(move_passes),
                "move_described": sum(int(m[2]) for m in move_passes),
                "move_removed": sum(int(m[4]) for m in move_passes),
                "peak_rss_mb": watch.peak_rss_mb(),
                "load_average_before": load_before,
            }
            bulk.append(run)
            print(
                f"bulk {r + 1}/{args.bulk_repeat}: {run['photos']} photos copied in {copied_s:.2f} s, all searchable "
                f"after {all_s:.1f} s ({run['photos_per_s']:.1f} photos/s) in {run['passes']} passes, "
                f"{run['described']} described; folder renamed: all under the new name after {move_s:.2f} s in "
                f"{run['move_passes']} passes, {run['move_described']} described again; "
                f"peak RSS {run['peak_rss_mb']:.0f} MB (load average before: {load_before})"
            )
        code = watch.stop()
        if code != 130:
            sys.exit(f"the watch exited {code}, not 130:\n" + "".join(watch.lines))

        ordered = sorted(landing_s)
        print(
            f"landing to searchable over {len(landing_s)} photos: median {percentile(ordered, 50):.2f} s, "
            f"p90 {percentile(ordered, 90):.2f} s (min {ordered[0]:.2f}, max {ordered[-1]:.2f}); "
            f"rename: median {percentile(sorted(rename_s), 50):.2f} s, {described_again} described again"
        )
        write_out(
            args.out,
            {
                "benchmark": "watch_latency",
                "machine": facts,
                "command": watch.command,
                "library_files": args.library_files,
                "first_landing_with_model_load_s": warm_s,
                "landing_s": spread(landing_s),
                "rename_s": spread(rename_s),
                "landing_load_average_before": loads,
                "bulk": bulk,
            },
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
