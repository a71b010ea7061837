"""First-index throughput on 12-megapixel JPEGs with the default offline models.

Makes N 4000x3000 JPEGs (quality 90) from the real sample photos in lucida.samples, each with its
own crop, flip, colour and grain so that every file has different content, a different hash and
a realistic size (3-4 MB, like a phone or compact camera photo). Then, R times, indexes the folder
into a fresh catalog with `index_paths` and the registry's default describer and embedder.

Model loading is timed once, separately, and is not part of photos/s. The photos are read from the
OS page cache after the first run (they were just written), so this measures decode + models +
catalog writes, not disk speed.

    HF_HUB_OFFLINE=1 python bench/index_throughput.py            # N=200, R=3
    HF_HUB_OFFLINE=1 python bench/index_throughput.py --photos /tmp/bench-photos --repeat 5
    HF_HUB_OFFLINE=1 python bench/index_throughput.py --photos /tmp/bench-photos -r 2 --stages   # where the time goes
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from _common import load_average, machine, print_machine, spread, write_out

WIDTH, HEIGHT = 4000, 3000
_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003


def make_photos(folder: Path, count: int, quality: int, seed: int, workers: int) -> list[Path]:
    """Write `count` distinct 12 MP JPEGs into `folder` (reusing ones already there)."""
    from lucida.samples import SAMPLE_PHOTOS

    folder.mkdir(parents=True, exist_ok=True)
    wanted = [folder / f"IMG_{i:05d}.jpg" for i in range(count)]
    missing = [(i, p) for i, p in enumerate(wanted) if not p.exists()]
    if not missing:
        return wanted
    sources = [Image.fromarray(s.load()).convert("RGB") for s in SAMPLE_PHOTOS]
    # Sensor grain: without it upscaled photos compress to ~1 MB and decode unrealistically fast.
    grain = np.random.default_rng(seed).normal(0, 7, size=(HEIGHT + 64, WIDTH + 64, 3)).astype(np.int16)

    def make(job: tuple[int, Path]) -> None:
        index, path = job
        rng = np.random.default_rng(seed * 100_003 + index)
        source = sources[index % len(sources)]
        w, h = source.size
        # A random crop of 70-100% of each side, resized to fill the 4:3 frame.
        cw, ch = int(w * rng.uniform(0.7, 1.0)), int(h * rng.uniform(0.7, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        image = source.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        image = image.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
        pixels = np.asarray(image, dtype=np.int16) * rng.uniform(0.85, 1.15, size=3)  # colour balance
        gy, gx = int(rng.integers(0, 64)), int(rng.integers(0, 64))
        pixels = pixels + grain[gy : gy + HEIGHT, gx : gx + WIDTH]
        out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        exif = Image.Exif()
        # Every fifth photo was taken with the camera turned: stored landscape, shown portrait.
        exif[_ORIENTATION] = 6 if index % 5 == 4 else 1
        taken = f"2023:{1 + index % 12:02d}:{1 + index % 28:02d} 12:{index % 60:02d}:00"
        exif.get_ifd(_EXIF_IFD)[_DATETIME_ORIGINAL] = taken
        buffer = io.BytesIO()
        out.save(buffer, "JPEG", quality=quality, exif=exif)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, path)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(make, missing))
    return wanted


class CountingEmbedder:
    """Passes everything to the real embedder and counts the texts it was asked to embed."""

    def __init__(self, model):
        self.model = model
        self.name = model.name
        self.texts = 0

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.model.embed_documents(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.model.embed_queries(texts)

    @property
    def vectors_cache(self):
        return getattr(self.model, "vectors_cache", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--photos-count", type=int, default=200, help="photos to index (default 200)")
    parser.add_argument("-r", "--repeat", type=int, default=3, help="timed runs, each into a fresh catalog")
    parser.add_argument("--photos", help="folder to generate the photos into and reuse (default: a temp folder)")
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, help="index_paths batch_size (default: the library's)")
    parser.add_argument("--decode-workers", type=int, help="index_paths decode_workers (default: the library's)")
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads before the runs")
    parser.add_argument(
        "--omp-wait-policy",
        default="cli",
        help="OMP_WAIT_POLICY for torch's OpenMP threads: 'cli' (default) sets what `lucida index` sets, "
        "'unset' leaves the environment alone, anything else is used as the value",
    )
    parser.add_argument("--embed-batch-size", type=int, help="the embedder's batch_size attribute (an experiment)")
    parser.add_argument("--describer", help="describer spec, e.g. efficientnet-lite0-imagenet+ocr (default: the library's)")
    parser.add_argument("--embedder", help="embedder name (default: the library's)")
    parser.add_argument(
        "--stages", action="store_true",
        help="time each stage (decode, forward pass, signals, embedding, catalog writes, ...; bench/_stages.py)",
    )
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()

    # Before torch is imported: OpenMP reads it once, when it loads.
    if args.omp_wait_policy == "cli":
        try:
            from lucida.cli import INDEX_OMP_WAIT_POLICY
        except ImportError:  # a lucida from before the CLI set one
            INDEX_OMP_WAIT_POLICY = None
        if INDEX_OMP_WAIT_POLICY:
            os.environ.setdefault("OMP_WAIT_POLICY", INDEX_OMP_WAIT_POLICY)
    elif args.omp_wait_policy != "unset":
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy

    from lucida.catalog import Catalog
    from lucida.indexer import index_paths
    from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, load_describer, load_embedder

    temp = Path(tempfile.mkdtemp(prefix="lucida-bench-index-"))
    try:
        folder = Path(args.photos) if args.photos else temp / "photos"
        started = time.perf_counter()
        paths = make_photos(folder, args.photos_count, args.quality, args.seed, os.cpu_count() or 2)
        made_s = time.perf_counter() - started
        sizes = [p.stat().st_size for p in paths]
        print(
            f"photos: {len(paths)} x {WIDTH}x{HEIGHT} JPEG q{args.quality} in {folder}, "
            f"{np.mean(sizes) / 1e6:.2f} MB mean ({sum(sizes) / 1e6:.0f} MB), ready in {made_s:.1f} s"
        )
        index_root = temp / "index-root"  # only the first N photos, even if --photos holds more
        index_root.mkdir()
        for p in paths:
            os.symlink(p.resolve(), index_root / p.name)

        if args.torch_threads:
            import torch

            torch.set_num_threads(args.torch_threads)
        t0 = time.perf_counter()
        describer = load_describer(args.describer or DEFAULT_DESCRIBER)
        t1 = time.perf_counter()
        embedder = CountingEmbedder(load_embedder(args.embedder or DEFAULT_EMBEDDER))
        t2 = time.perf_counter()
        if args.embed_batch_size:
            embedder.model.batch_size = args.embed_batch_size
        facts = machine()
        print_machine(facts)
        print(f"model loading (not in photos/s): describer {t1 - t0:.2f} s, embedder {t2 - t1:.2f} s")

        options = {}
        if args.batch_size:
            options["batch_size"] = args.batch_size
        if args.decode_workers:
            options["decode_workers"] = args.decode_workers
        stage_clock = None
        if args.stages:
            from _stages import StageClock, install

            stage_clock = StageClock()
            install(stage_clock)
        stage_runs = []
        rates, seconds, loads, cpu_ms, child_ms = [], [], [], [], []
        for run in range(args.repeat):
            db = temp / f"catalog-{run}.db"
            embedder.texts = 0
            if stage_clock is not None:
                stage_clock.reset()
            with Catalog.open(db) as catalog:
                load_before = load_average()
                cpu_before = os.times()
                began = time.perf_counter()
                summary = index_paths(catalog, [str(index_root)], describer, embedder, **options)
                elapsed = time.perf_counter() - began
                cpu_after = os.times()
            cpu_s = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
            cpu_ms.append(cpu_s * 1000 / len(paths))
            # Child processes: the ExifTool that reads metadata (it ends with the run).
            child_s = (cpu_after.children_user - cpu_before.children_user) + (
                cpu_after.children_system - cpu_before.children_system
            )
            child_ms.append(child_s * 1000 / len(paths))
            if summary.described != len(paths) or summary.skipped:
                sys.exit(f"run {run + 1}: described {summary.described} of {len(paths)}, skipped {summary.skipped}")
            rates.append(len(paths) / elapsed)
            seconds.append(elapsed)
            loads.append(load_before)
            print(
                f"run {run + 1}/{args.repeat}: {len(paths)} photos in {elapsed:.2f} s = {rates[-1]:.1f} photos/s, "
                f"CPU {cpu_ms[-1]:.0f} ms/photo (+ {child_ms[-1]:.1f} in child processes), {embedder.texts} distinct texts embedded"
                f"  (1-min load average before: {load_before})"
            )
            if stage_clock is not None:
                rows = stage_clock.report(len(paths), elapsed, cpu_s, child_s)
                stage_runs.append({name: round(ms, 2) for name, _, ms in rows})
                tokens = stage_clock.tokens / max(stage_clock.texts, 1)
                print(f"  stages, ms per photo ({stage_clock.texts} texts embedded, {tokens:.0f} tokens each on average):")
                for name, clock, ms in rows:
                    print(f"    {name:62s} {ms:8.1f}  {clock}")
            db.unlink()
        s = spread(rates)
        c = spread(cpu_ms)
        print(f"process CPU time: {c['mean']:.0f} ms/photo mean (min {c['min']:.0f}, max {c['max']:.0f})")
        print(
            f"first index: {s['mean']:.1f} photos/s mean over {len(rates)} runs "
            f"(min {s['min']:.1f}, max {s['max']:.1f}, stdev {s['stdev']:.1f}); target >= 20 photos/s: "
            + ("met" if s["mean"] >= 20 else "MISSED")
        )
        write_out(
            args.out,
            {
                "benchmark": "index_throughput",
                "machine": facts,
                "photos": len(paths),
                "models": {"describer": describer.name, "embedder": embedder.name},
                "mean_file_mb": float(np.mean(sizes) / 1e6),
                "model_load_s": {"describer": t1 - t0, "embedder": t2 - t1},
                "options": options
                | {"omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
                | ({"torch_threads": args.torch_threads} if args.torch_threads else {})
                | ({"embed_batch_size": args.embed_batch_size} if args.embed_batch_size else {}),
                "texts_embedded": embedder.texts,
                "cpu_ms_per_photo": c,
                "child_cpu_ms_per_photo": spread(child_ms),
                "seconds": seconds,
                "load_average_before": loads,
                "photos_per_s": s,
                **({"stages_ms_per_photo": stage_runs} if stage_runs else {}),
            },
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
