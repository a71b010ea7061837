"""`lucida caption --ray` against `lucida caption`: photos per second with 1 and 2 Ray actors on
this machine, and what Ray costs per photo.

The captioner is Florence-2-base at its real size with random weights (tests/vlm_checkpoints.py;
no hub is reachable here, and speed does not depend on the weights' values), asked for
`<CAPTION>` (48 new tokens at most, which random weights use up), loaded through the registry as
a downloaded checkpoint is. The photos are real sample photos, indexed into a SQLite catalog
first; each variant captions a fresh copy of that catalog, so every run does the same work.

- local: `Library.caption`, one process, torch on every core;
- ray-N: `Library.caption_on_ray` on a local Ray cluster of this machine's cores with N actors
  (each with cores / N CPUs, so torch runs cores / N threads in each).

Wall time covers the whole run, model loading included (each Ray actor loads its own copy; Ray
also loads the model once on a worker to learn its prompt), and is also reported without it:
from the first committed caption to the last, per photo.

    HF_HUB_OFFLINE=1 PYTHONPATH=src:tests python bench/caption_ray.py --photos 16 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average, machine, print_machine, spread, write_out

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import vlm_checkpoints  # noqa: E402

PROMPT = "<CAPTION>"
TOKENS = 48  # FLORENCE_TASKS["<CAPTION>"]: the most new tokens lucida lets it write


def indexed_catalog(work: Path, count: int) -> Path:
    from lucida.library import Library
    from lucida.samples import SAMPLE_PHOTOS, write_sample_photos

    photos = work / "photos"
    names = [p.name for p in SAMPLE_PHOTOS]
    write_sample_photos(photos)
    # More photos than samples: mirrored copies (new content, so each is captioned).
    from PIL import Image, ImageOps

    for i, source in enumerate(sorted(photos.glob("*.jpg"))[: max(0, count - len(names))]):
        with Image.open(source) as image:
            ImageOps.mirror(image).save(photos / f"mirrored-{i:02d}.jpg", quality=92)
    for extra in sorted(photos.glob("*.jpg"))[count:]:
        extra.unlink()
    db = work / "catalog.db"
    with Library.open(db, create=True) as library:
        library.index([str(photos)])
    return db


def fresh_copy(db: Path, work: Path, name: str) -> Path:
    copy = work / f"{name}.db"
    copy.unlink(missing_ok=True)
    with sqlite3.connect(db) as source:
        source.execute("VACUUM INTO ?", (str(copy),))
    return copy


def caption_span(db: Path, spec: str) -> float:
    """Seconds from the first caption committed to the last."""
    with sqlite3.connect(db) as check:
        first, last = check.execute("SELECT min(created_at), max(created_at) FROM descriptions WHERE describer = ?", (spec,)).fetchone()
    return last - first


def run(args) -> dict:
    import ray
    from transformers import AutoTokenizer

    from lucida.library import Library

    facts = machine()
    print_machine(facts)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    folder = work / "florence-2-base"
    if not (folder / "config.json").exists():
        vlm_checkpoints.build_florence2(folder, "base")
    # Random weights would end a caption anywhere, often at once, and mostly pick ids the small
    # test tokenizer cannot spell (the model keeps Florence-2's 51,289-token vocabulary): every
    # caption is made exactly as long as <CAPTION> allows, of words, through the checkpoint's own
    # generation config, which every process that loads it (Ray's actors too) reads.
    generation = json.loads((folder / "generation_config.json").read_text())
    spelled = AutoTokenizer.from_pretrained(folder).vocab_size
    vocabulary = json.loads((folder / "config.json").read_text())["text_config"]["vocab_size"]
    generation.update(min_new_tokens=TOKENS, suppress_tokens=[0, 1, 3, 4, *range(spelled, vocabulary)])
    (folder / "generation_config.json").write_text(json.dumps(generation))
    spec = f"florence2:{folder}"
    db = indexed_catalog(work, args.photos)
    results = []
    for variant in args.variants.split(","):
        walls, spans = [], []
        loads = [load_average()]
        for _ in range(args.repeat):
            copy = fresh_copy(db, work, variant)
            started = time.perf_counter()
            with Library.open(copy) as library:
                if variant == "local":
                    summary = library.caption(spec, PROMPT, batch_size=args.batch)[1]
                else:
                    actors = int(variant.removeprefix("ray-"))
                    if not ray.is_initialized():
                        ray.init(include_dashboard=False, log_to_driver=False)
                    summary = library.caption_on_ray("auto", spec, PROMPT, batch_size=args.batch, actors=actors)[2]
            walls.append((time.perf_counter() - started) / args.photos)
            spans.append(caption_span(copy, spec) / max(1, args.photos - args.batch))
            assert summary.captioned == args.photos and summary.failed == 0, summary
            loads.append(load_average())
        wall, span = spread(walls), spread(spans)
        print(
            f"{variant:8s} {wall['mean']:.2f} s/photo with loading (min {wall['min']:.2f}, max {wall['max']:.2f}); "
            f"{span['mean']:.2f} s/photo between first and last commit (min {span['min']:.2f}, max {span['max']:.2f}); "
            f"{args.repeat} x {args.photos} photos; load {min(loads):.1f}-{max(loads):.1f}",
            flush=True,
        )
        results.append({"variant": variant, "seconds_per_photo": wall, "seconds_per_photo_between_commits": span})
    if ray.is_initialized():
        ray.shutdown()
    return {"machine": facts, "photos": args.photos, "batch": args.batch, "prompt": PROMPT, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--variants", default="local,ray-1,ray-2")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "lucida-bench-caption-ray"))
    parser.add_argument("--out", default="bench/results/caption_ray.json")
    args = parser.parse_args()
    write_out(args.out, run(args))


if __name__ == "__main__":
    main()
