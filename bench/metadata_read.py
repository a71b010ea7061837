"""What reading metadata costs: lucida's MetadataReader (one ExifTool in -stay_open mode) over
12-megapixel JPEGs, in the index run's batches, alone, without the models.

Uses the photos `index_throughput.py` writes (pass the same --photos folder to reuse them; each
carries EXIF with a capture time, every fifth an orientation). Every tenth photo also gets an
XMP sidecar, written by ExifTool before timing, so the sidecar path is part of what is measured.
Reports photos/s (wall) and the ExifTool process's CPU time per photo: the number that adds to
an index run's cost, since ExifTool reads while the models work.

    HF_HUB_OFFLINE=1 python bench/metadata_read.py --photos /tmp/bench-photos   # 200 photos, 5 runs
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average, machine, print_machine, spread, write_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", help="folder of index_throughput.py's photos (default: make them in a temp folder)")
    parser.add_argument("-n", "--photos-count", type=int, default=200)
    parser.add_argument("-r", "--repeat", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="files per ExifTool call (the indexer's batch)")
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()

    from index_throughput import make_photos

    from lucida.metadata import MetadataReader, find_sidecars

    folder = Path(args.photos or tempfile.mkdtemp(prefix="lucida-bench-metadata-"))
    paths = [str(p) for p in make_photos(folder, args.photos_count, 90, 1, os.cpu_count() or 2)]
    sidecars_dir = Path(tempfile.mkdtemp(prefix="lucida-bench-sidecars-"))
    # The photos may be shared with other benchmarks: link them into a folder of our own, and
    # put the sidecars there.
    linked = []
    for i, path in enumerate(paths):
        link = sidecars_dir / os.path.basename(path)
        os.symlink(path, link)
        linked.append(str(link))
        if i % 10 == 0:
            subprocess.run(
                ["exiftool", "-q", "-o", str(link.with_suffix(".xmp")), "-XMP:Rating=3", "-XMP:Subject=bench"],
                check=True,
            )
    facts = machine()
    print_machine(facts)
    rates, cpu_ms, loads = [], [], []
    for run in range(args.repeat):
        load = load_average()
        before = os.times()
        began = time.perf_counter()
        with MetadataReader() as reader:
            sidecars = find_sidecars(linked)
            found = {}
            for start in range(0, len(linked), args.batch_size):
                found.update(reader.read(linked[start : start + args.batch_size], sidecars))
        elapsed = time.perf_counter() - began
        after = os.times()
        if sum(m.taken_at is not None for m in found.values()) != len(linked):
            sys.exit("a photo's capture time was not read")
        if sum(m.rating == 3 for m in found.values()) != len(sidecars):
            sys.exit("a sidecar's rating was not read")
        child = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        rates.append(len(linked) / elapsed)
        cpu_ms.append(child * 1000 / len(linked))
        loads.append(load)
        print(
            f"run {run + 1}/{args.repeat}: {len(linked)} photos ({len(sidecars)} with sidecars) in {elapsed:.2f} s "
            f"= {rates[-1]:.0f} photos/s, ExifTool CPU {cpu_ms[-1]:.2f} ms/photo  (1-min load average before: {load})"
        )
    s, c = spread(rates), spread(cpu_ms)
    print(
        f"metadata read: {s['mean']:.0f} photos/s mean (min {s['min']:.0f}, max {s['max']:.0f}); "
        f"ExifTool CPU {c['mean']:.2f} ms/photo (min {c['min']:.2f}, max {c['max']:.2f}), including its start"
    )
    write_out(
        args.out,
        {
            "benchmark": "metadata_read",
            "machine": facts,
            "photos": len(linked),
            "sidecars": len(sidecars),
            "batch_size": args.batch_size,
            "photos_per_s": s,
            "exiftool_cpu_ms_per_photo": c,
            "load_average_before": loads,
        },
    )


if __name__ == "__main__":
    main()
