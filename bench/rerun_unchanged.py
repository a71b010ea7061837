"""A no-change rerun over a 10,000-photo library: how long `lucida index` takes when nothing changed.

The catalog is SYNTHETIC. Describing 10,000 photos through the models would take far too long
for a benchmark, so the script writes 10,000 small real JPEG files (100 folders of 100, made from
the sample photos) and fills the catalog through the Catalog API exactly as an index run would:
add_image with each file's real content hash, put_description with an ImageNet-style text,
put_embedding with a random unit vector, put_file with the file's real size and mtime_ns, and
put_metadata with what ExifTool finds in these files (nothing) and no sidecars, in
transactions of 1,000. A rerun then finds every file unchanged, which is what is timed:

  * the library call, `index_paths(catalog, [folder], describer, embedder)`, with the default
    models passed in (their loading is reported separately and not included), and
  * the whole command, `lucida --db CATALOG index FOLDER --quiet`, in a subprocess: interpreter
    start, imports, any model loading, the scan and the catalog checks.

    HF_HUB_OFFLINE=1 python bench/rerun_unchanged.py               # 10,000 files, 3 runs of each
    HF_HUB_OFFLINE=1 python bench/rerun_unchanged.py --each-file 5000  # half the library, file by file
    HF_HUB_OFFLINE=1 python bench/rerun_unchanged.py --files 50000 --repeat 5
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import load_average, machine, print_machine, spread, write_out

PER_FOLDER = 100
TARGET_S = 5.0


def make_library(root: Path, count: int, seed: int) -> list[tuple[str, int, int, bytes, tuple[int, int]]]:
    """Write `count` small JPEGs under root/<folder>/; returns (path, size, mtime_ns, hash, size_px)."""
    from lucida.samples import SAMPLE_PHOTOS

    rng = np.random.default_rng(seed)
    sources = [Image.fromarray(s.load()).convert("RGB").resize((96, 72)) for s in SAMPLE_PHOTOS]
    files = []
    base = os.path.abspath(root)  # the form scan() records
    for index in range(count):
        folder = os.path.join(base, f"{2000 + index // (PER_FOLDER * 12)}-{index // PER_FOLDER:04d}")
        if index % PER_FOLDER == 0:
            os.makedirs(folder, exist_ok=True)
        pixels = np.asarray(sources[index % len(sources)], dtype=np.int16)
        pixels = pixels + rng.integers(-12, 13, size=pixels.shape)  # every file different
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
        data = buffer.getvalue()
        path = os.path.join(folder, f"IMG_{index:05d}.jpg")
        with open(path, "wb") as handle:
            handle.write(data)
        info = os.stat(path)
        files.append((path, info.st_size, info.st_mtime_ns, hashlib.sha256(data).hexdigest(), (96, 72)))
    return files


def fill_catalog(db: Path, files: list, seed: int, describer_name: str, embedder_name: str, dim: int) -> None:
    """Record every file as indexed, as a real run would have, without running the models."""
    from lucida.catalog import Catalog
    from lucida.catalog.store import ACTIVE_DESCRIBER, ACTIVE_EMBEDDER
    from lucida.metadata import PhotoMetadata, sidecar_signature
    from lucida.models.imagenet import describe_classes, load_imagenet_classes

    classes = load_imagenet_classes()
    rng = np.random.default_rng(seed)
    with Catalog.open(db) as catalog:
        with catalog.transaction():
            catalog.set_setting(ACTIVE_DESCRIBER, describer_name)
            catalog.set_setting(ACTIVE_EMBEDDER, embedder_name)
        for start in range(0, len(files), 1000):
            with catalog.transaction():
                for path, size, mtime_ns, digest, (w, h) in files[start : start + 1000]:
                    description = describe_classes(rng.dirichlet(np.full(1000, 0.01)), classes)
                    vector = rng.standard_normal(dim).astype(np.float32)
                    vector /= np.linalg.norm(vector)
                    image_id = catalog.add_image(digest, w, h, None)
                    description_id = catalog.put_description(
                        image_id, describer_name, "", description.text, description.details
                    )
                    catalog.put_embedding(description_id, embedder_name, vector)
                    catalog.put_file(path, size, mtime_ns, image_id)
                    catalog.put_metadata(path, PhotoMetadata(), sidecar_signature(()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000, help="photo files in the library (default 10,000)")
    parser.add_argument("-r", "--repeat", type=int, default=3, help="timed runs of the library call and of the CLI")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--each-file",
        nargs="?",
        type=int,
        const=0,
        metavar="N",
        help="pass files as paths, one per file, as `lucida index */*.jpg` does, instead of the folder: "
        "all of them, or the first N (the catalog still holds all, so the rest must be checked as gone-or-kept)",
    )
    parser.add_argument("--no-cli", action="store_true", help="time only the library call")
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()

    from lucida.catalog import Catalog
    from lucida.indexer import index_paths
    from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, load_describer, load_embedder

    temp = Path(tempfile.mkdtemp(prefix="lucida-bench-rerun-"))
    try:
        library, db = temp / "photos", temp / "catalog.db"
        t0 = time.perf_counter()
        files = make_library(library, args.files, args.seed)
        t1 = time.perf_counter()
        fill_catalog(db, files, args.seed, DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, dim=384)
        t2 = time.perf_counter()
        print(
            f"library: {len(files)} JPEG files in {len(files) // PER_FOLDER} folders, written in {t1 - t0:.1f} s; "
            f"synthetic catalog filled through the Catalog API in {t2 - t1:.1f} s "
            f"({db.stat().st_size / 1e6:.1f} MB)"
        )

        t3 = time.perf_counter()
        describer = load_describer(DEFAULT_DESCRIBER)
        embedder = load_embedder(DEFAULT_EMBEDDER)
        load_s = time.perf_counter() - t3
        facts = machine()
        print_machine(facts)
        print(f"model loading for the library call (not included below): {load_s:.2f} s")

        each = args.each_file is not None
        targets = [f[0] for f in files[: args.each_file or None]] if each else [str(library)]
        expected = len(targets) if each else len(files)
        library_s, library_loads = [], []
        for run in range(args.repeat):
            with Catalog.open(db) as catalog:
                library_loads.append(load_average())
                began = time.perf_counter()
                summary = index_paths(catalog, targets, describer, embedder)
                library_s.append(time.perf_counter() - began)
            if summary.unchanged != expected or summary.described or summary.removed or summary.embedded:
                sys.exit(f"expected {expected} unchanged files, got {summary}")
            print(
                f"library run {run + 1}/{args.repeat}: index_paths {library_s[-1]:.3f} s, "
                f"{summary.unchanged} unchanged"
            )

        cli_s, cli_loads = [], []
        if not args.no_cli:
            lucida = Path(sys.executable).with_name("lucida")
            command = [str(lucida) if lucida.exists() else "lucida", "--db", str(db), "index", *targets, "--quiet"]
            env = os.environ | {"HF_HUB_OFFLINE": "1"}
            for run in range(args.repeat):
                cli_loads.append(load_average())
                began = time.perf_counter()
                done = subprocess.run(command, env=env, capture_output=True, text=True)
                cli_s.append(time.perf_counter() - began)
                if done.returncode != 0:
                    sys.exit(f"{' '.join(command[:6])} ... failed ({done.returncode}):\n{done.stderr}")
                print(
                    f"CLI run {run + 1}/{args.repeat}: {cli_s[-1]:.2f} s  "
                    f"(1-min load average before: {cli_loads[-1]})"
                )
            with Catalog.open(db, create=False) as catalog:
                status = catalog.status()
            if status.files != len(files) or status.pending:
                sys.exit(f"after the CLI runs the catalog has {status.files} files, {status.pending} pending")

        lib = spread(library_s)
        print(
            f"no-change rerun over {len(files)} files"
            + (f" ({len(targets)} of them passed as paths, one per file)" if each else "")
            + f", library call: {lib['mean']:.3f} s mean "
            f"(min {lib['min']:.3f}, max {lib['max']:.3f})"
        )
        result = {
            "benchmark": "rerun_unchanged",
            "synthetic_catalog": True,
            "machine": facts,
            "files": len(files),
            "paths_passed": len(targets) if each else "the folder",
            "model_load_s": load_s,
            "library_call_s": lib,
            "library_load_average_before": library_loads,
        }
        if cli_s:
            cli = spread(cli_s)
            print(
                f"no-change rerun, whole CLI command: {cli['mean']:.2f} s mean (min {cli['min']:.2f}, "
                f"max {cli['max']:.2f}); target < {TARGET_S:.0f} s: " + ("met" if cli["max"] < TARGET_S else "MISSED")
            )
            shown = command if not each else [*command[:4], f"<{len(targets)} file paths>", "--quiet"]
            result |= {"cli_s": cli, "cli_load_average_before": cli_loads, "cli_command": shown}
        write_out(args.out, result)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
