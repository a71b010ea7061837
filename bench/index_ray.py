"""`lucida index --ray` against `lucida index`: photos per second on this machine with 1 and 2
Ray actors, and what Ray costs.

The photos are bench/index_throughput.py's: N 12-megapixel JPEGs made from the real sample
photos, each with different content. Each variant indexes them into a fresh SQLite catalog with
the default describer and embedder (Library.index), metadata read by ExifTool included:

- local: `Library.index`, one process (decode threads beside the models);
- ray-N: `Library.index(ray_address=...)` on a local Ray cluster of this machine's cores with N
  actors (each with cores / N CPUs).

Each variant indexes two counts of photos (--counts, e.g. 50 and 200). Reported: the whole run
(the cluster's start and each actor's model loading included), and the marginal rate, the
photos between the two counts over the seconds between them: what a photo costs once the run is
going, with every fixed cost cancelled out.

    HF_HUB_OFFLINE=1 python bench/index_ray.py --photos /tmp/bench-photos --counts 50,200 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _common import load_average, machine, print_machine, spread, write_out
from index_throughput import make_photos


def run(variant: str, photos: list[Path], work: Path, batch: int) -> dict:
    import ray

    from lucida.library import Library

    db = work / f"{variant}-{time.monotonic_ns()}.db"
    paths = [str(p) for p in photos]
    started = time.perf_counter()
    if variant == "local":
        with Library.open(db, create=True) as library:
            summary = library.index(paths, batch_size=batch)
    else:
        actors = int(variant.split("-")[1])
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        try:
            with Library.open(db, create=True) as library:
                summary = library.index(paths, batch_size=batch, ray_address="auto", actors=actors)
        finally:
            ray.shutdown()
    seconds = time.perf_counter() - started
    return {"variant": variant, "photos": summary.described, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="50,200", help="the two photo counts")
    parser.add_argument("--photos", default=str(Path(tempfile.gettempdir()) / "lucida-bench-index-ray"))
    parser.add_argument("--batch", type=int, default=16, help="photos per batch (an actor's batch with Ray)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--variants", default="local,ray-1,ray-2")
    parser.add_argument("--out", default="bench/results/index_ray.json")
    args = parser.parse_args()
    facts = machine()
    print_machine(facts)
    few, many = sorted(int(c) for c in args.counts.split(","))
    folder = Path(args.photos)
    if len(list(folder.glob("*.jpg"))) < many:
        make_photos(folder, many, 90, 1, os.cpu_count() or 1)
    photos = sorted(folder.glob("*.jpg"))[:many]
    work = Path(tempfile.mkdtemp(prefix="lucida-bench-index-ray-"))
    runs = []
    for repeat in range(args.repeat):
        for variant in args.variants.split(","):  # interleaved, so drift hits every variant alike
            pair = {}
            for count in (few, many):
                load = load_average()
                pair[count] = run(variant, photos[:count], work, args.batch)
                pair[count]["load_average_before"] = load
            marginal = (many - few) / (pair[many]["seconds"] - pair[few]["seconds"])
            runs.append({"variant": variant, "runs": pair, "marginal_photos_per_s": marginal})
            print(f"{variant:6s} repeat {repeat + 1}: {few} photos in {pair[few]['seconds']:.1f} s, {many} in "
                  f"{pair[many]['seconds']:.1f} s ({many / pair[many]['seconds']:.2f} photos/s whole run); "
                  f"marginal {marginal:.2f} photos/s; load before {pair[few]['load_average_before']:.1f}", flush=True)  # fmt: skip
    summary = {}
    for variant in args.variants.split(","):
        mine = [r for r in runs if r["variant"] == variant]
        summary[variant] = {"marginal_photos_per_s": spread([r["marginal_photos_per_s"] for r in mine]),
                            "whole_run_photos_per_s": spread([many / r["runs"][many]["seconds"] for r in mine])}  # fmt: skip
        print(f"{variant}: marginal {summary[variant]['marginal_photos_per_s']['mean']:.2f} photos/s "
              f"({summary[variant]['marginal_photos_per_s']['min']:.2f}-{summary[variant]['marginal_photos_per_s']['max']:.2f})")
    write_out(args.out, {"machine": facts, "counts": [few, many], "runs": runs, "summary": summary})


if __name__ == "__main__":
    main()
