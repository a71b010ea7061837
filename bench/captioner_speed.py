"""Seconds per photo for each Hugging Face captioner architecture, at its real size, on this machine.

No hub is reachable here, so each model is the published configuration with random weights
(tests/vlm_checkpoints.py builds it with transformers' own classes and saves it like a hub
checkpoint; speed does not depend on the weights' values). It is loaded through the registry
(`florence2:<folder>` ...) and captions the real sample photos, decoded at the captioner's
input_side, with lucida's own describe(). Every caption is exactly --tokens tokens long
(random weights would otherwise stop anywhere), so runs compare.

It reports wall-clock seconds per photo and the CPU seconds this process used per photo: on a
machine shared with other work the wall clock mostly measures the others, while CPU time stays
close to what the model costs (with N threads an idle machine needs about CPU / N of wall time).

Variants (each a comma-separated list; every combination runs): --batch images per generate call,
--threads torch intra-op threads, --dtype float32/bfloat16 (lucida picks bfloat16 on CPUs with
native bf16, see lucida.models.device), --quantize none/int8 (dynamic int8 Linear layers),
--attention sdpa/eager.

    HF_HUB_OFFLINE=1 python bench/captioner_speed.py                          # all five, defaults
    HF_HUB_OFFLINE=1 python bench/captioner_speed.py --models florence-2-base \\
        --batch 1,4 --dtype float32,bfloat16 --quantize none,int8 --repeat 3
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

from _common import load_average, machine, print_machine, spread, write_out
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import vlm_checkpoints

# name -> (spec prefix, builder, size in vlm_checkpoints, prompt)
ARCHITECTURES = {
    "florence-2-base": ("florence2", vlm_checkpoints.build_florence2, "base", "<DETAILED_CAPTION>"),
    "florence-2-large": ("florence2", vlm_checkpoints.build_florence2, "large", "<DETAILED_CAPTION>"),
    "blip-base": ("blip", vlm_checkpoints.build_blip, "base", ""),
    "smolvlm-256m": ("smolvlm", vlm_checkpoints.build_smolvlm, "256m", "detailed"),
    "llava-onevision-0.5b": ("llava-onevision", vlm_checkpoints.build_llava_onevision, "0.5b", "detailed"),
}


def checkpoint(name: str, work: Path) -> Path:
    """The random real-size checkpoint for `name`, built once and kept in `work`."""
    _, build, size, _ = ARCHITECTURES[name]
    folder = work / name
    if not (folder / "config.json").exists():
        started = time.perf_counter()
        build(folder, size)
        print(f"built {name} in {time.perf_counter() - started:.0f} s: {folder}", flush=True)
    return folder


def photos(count: int, side: int) -> list[Image.Image]:
    """`count` real sample photos with their shorter side at `side`, as the indexer decodes them."""
    from lucida.samples import SAMPLE_PHOTOS

    images = []
    for i in range(count):
        image = Image.fromarray(SAMPLE_PHOTOS[i % len(SAMPLE_PHOTOS)].load()).convert("RGB")
        scale = side / min(image.size)
        images.append(image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC))
    return images


def configure(captioner, tokens: int, batch: int, dtype: str, quantize: str, attention: str):
    """The captioner changed into one variant (a benchmark may reach into it; lucida does not)."""
    import torch

    model = captioner._model
    # BLIP generates with its text decoder's own generation config.
    for generator in (model, getattr(model, "text_decoder", None)):
        if generator is not None:
            generator.generation_config.min_new_tokens = tokens
    captioner._max_new_tokens = lambda: tokens
    captioner.batch_size = batch
    model.set_attn_implementation(attention)
    captioner.dtype = getattr(torch, dtype)
    model.to(captioner.dtype)
    if quantize == "int8":
        captioner._model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return captioner


def run(args) -> dict:
    import torch

    from lucida.models.registry import load_describer

    facts = machine()
    print_machine(facts)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.models.split(","):
        prefix, _, _, prompt = ARCHITECTURES[name]
        folder = checkpoint(name, work)
        variants = itertools.product(
            [int(b) for b in args.batch.split(",")],
            [int(t) for t in args.threads.split(",")],
            args.dtype.split(","),
            args.quantize.split(","),
            args.attention.split(","),
        )
        for batch, threads, dtype, quantize, attention in variants:
            if quantize == "int8" and dtype != "float32":
                continue  # dynamic quantization replaces float32 Linear layers only
            torch.set_num_threads(threads)
            started = time.perf_counter()
            captioner = load_describer(f"{prefix}:{folder}", prompt=prompt or None)
            load_s = time.perf_counter() - started
            configure(captioner, args.tokens, batch, dtype, quantize, attention)
            images = photos(args.photos, captioner.input_side)
            captioner.describe(images[:batch])  # warm-up: first-call allocations and kernel choices
            per_photo, cpu_per_photo, loads = [], [], []
            for _ in range(args.repeat):
                loads.append(load_average())
                started, cpu_started = time.perf_counter(), time.process_time()
                captions = captioner.describe(images)
                per_photo.append((time.perf_counter() - started) / len(images))
                cpu_per_photo.append((time.process_time() - cpu_started) / len(images))
                assert len(captions) == len(images)
            loads.append(load_average())
            stats, cpu = spread(per_photo), spread(cpu_per_photo)
            variant = {"batch": batch, "threads": threads, "dtype": dtype, "quantize": quantize, "attention": attention}
            print(
                f"{name:22s} {variant}  {stats['mean']:.2f} s/photo "
                f"(min {stats['min']:.2f}, max {stats['max']:.2f}; CPU {cpu['mean']:.2f} s/photo; "
                f"{args.repeat} x {len(images)} photos, "
                f"{args.tokens} tokens; load {min(loads):.1f}-{max(loads):.1f}; model load {load_s:.0f} s)",
                flush=True,
            )
            results.append(
                dict(
                    model=name, prompt=prompt, **variant, seconds_per_photo=stats, cpu_seconds_per_photo=cpu,
                    load_average=loads,
                )
            )
            del captioner
    return {"machine": facts, "tokens": args.tokens, "photos": args.photos, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(ARCHITECTURES))
    parser.add_argument("--tokens", type=int, default=40, help="tokens generated per caption (default 40)")
    parser.add_argument("--photos", type=int, default=4, help="photos per timed run (default 4)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--batch", default="4")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--quantize", default="none")
    parser.add_argument("--attention", default="sdpa")
    parser.add_argument("--work", default="/tmp/lucida-bench-vlms", help="where the random checkpoints are kept")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    write_out(args.out, run(args))


if __name__ == "__main__":
    main()
