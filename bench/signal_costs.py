"""What each describer signal costs per photo, measured alone, on 12-megapixel JPEGs.

Whole index runs (bench/index_throughput.py --describer SPEC) measure the sum; on a shared
machine their spread hides a 1 ms signal. This times each piece by itself on the same photos,
on one thread: decoding at the describer's size and at OCR's, the WordNet categories, the pixel
facts, the face count, the text detector and Tesseract. Minimum of R passes (the least
disturbed), with the maximum beside it.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python bench/signal_costs.py --photos /tmp/bench-photos -n 32
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from _common import load_average, machine, print_machine, write_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", required=True, help="folder of JPEGs, e.g. the one bench/index_throughput.py --photos fills")
    parser.add_argument("-n", "--count", type=int, default=32)
    parser.add_argument("-r", "--repeat", type=int, default=3)
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args()

    from lucida.media import decode_for_models
    from lucida.models.imagenet import load_imagenet_classes
    from lucida.models.ocr import OCR_SIDE, TextReader
    from lucida.models.people import FaceCounter
    from lucida.models.signals import CategoryTable
    from lucida.pixels import look_words

    paths = sorted(Path(args.photos).glob("*.jpg"))[: args.count]
    data = [p.read_bytes() for p in paths]
    small = [decode_for_models(d, ".jpg", 224).image for d in data]
    large = [decode_for_models(d, ".jpg", OCR_SIDE).image for d in data]
    # Class probabilities shaped like a classifier's (most mass on a few classes), kept as a
    # description keeps them: the likeliest 25.
    synsets = [c.synset for c in load_imagenet_classes()]
    probabilities = np.random.default_rng(0).dirichlet(np.full(len(synsets), 0.05), len(data))
    kept = [[{"synset": synsets[i], "p": float(p[i])} for i in np.argsort(-p)[:25]] for p in probabilities]
    categories, faces, reader = CategoryTable(synsets), FaceCounter(), TextReader()
    steps = {
        "decode at 224 px (the describer's input)": lambda: [decode_for_models(d, ".jpg", 224) for d in data],
        f"decode at {OCR_SIDE} px (ocr's input)": lambda: [decode_for_models(d, ".jpg", OCR_SIDE) for d in data],
        "hypernyms: WordNet categories": lambda: [categories.words(classes) for classes in kept],
        "pixels: colours, light, shape, blur": lambda: [look_words(im) for im in small],
        "people: face count": lambda: [faces.count(im) for im in small],
        "ocr: text-line detector alone": lambda: [reader.likely_text(im) for im in large],
        "ocr: detector + Tesseract": lambda: [reader.read(im) for im in large],
    }
    facts = machine()
    print_machine(facts)
    print(f"{len(data)} photos from {args.photos}; 1-min load average before: {load_average()}")
    results = {}
    for name, step in steps.items():
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            step()
            times.append((time.perf_counter() - began) * 1000 / len(data))
        results[name] = {"min_ms": min(times), "max_ms": max(times)}
        print(f"{name}: {min(times):.1f} ms/photo (max {max(times):.1f})")
    fired = sum(reader.likely_text(im) for im in large)
    print(f"text detector fired on {fired} of {len(large)}; 1-min load average after: {load_average()}")
    write_out(args.out, {"benchmark": "signal_costs", "machine": facts, "photos": len(data), "ms_per_photo": results,
                         "text_detector_fired": fired, "omp_num_threads": os.environ.get("OMP_NUM_THREADS")})


if __name__ == "__main__":
    main()
