"""What an embedder costs on this machine: one search query at a time (what `lucida search`
pays per query) and stored captions in batches (what indexing pays per photo).

Runs each embedder given (registry names or explicit specs; by default every embedder that is
available locally and not behind an API), interleaved, for --runs rounds, so load from other
processes on a shared machine falls on all of them alike. Reports the median milliseconds per
query and per caption of each round, with the 1-minute load average.

    HF_HUB_OFFLINE=1 python bench/embedder_speed.py
    HF_HUB_OFFLINE=1 python bench/embedder_speed.py --embedder all-minilm-l6-v2 --embedder all-mpnet-base-v2 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import load_average, machine, print_machine, spread, write_out

QUERIES = [
    "a cat sleeping on a sofa", "kids on a beach at sunset", "a red car in the snow", "a cup of coffee",
    "a rocket launch", "my grandmother's birthday cake", "a lighthouse at night", "a dog catching a frisbee",
    "fireworks over the city", "a bowl of ramen", "a mountain lake in autumn", "a man with a camera",
]
# Captions as a detailed-caption prompt writes them (about 60 words), the text indexing embeds.
CAPTION = (
    "A tabby cat with green eyes lies curled up on a grey knitted blanket on a sofa in a living room, "
    "lit by warm afternoon sunlight from a window on the left. Behind it a bookshelf holds a few books "
    "and a potted plant. The photo is a close-up, shallow depth of field, with soft muted colours."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", action="append", help="Embedder spec; repeatable (default: every local one).")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=48, help="Single queries timed per run.")
    parser.add_argument("--captions", type=int, default=128, help="Captions embedded per run, in batches of 16.")
    parser.add_argument("--out", help="Write the results as JSON here.")
    args = parser.parse_args()

    from lucida.models.registry import EMBEDDER, availability, entries, load_embedder

    specs = args.embedder or [e.name for e in entries(EMBEDDER) if availability(e).local]
    facts = machine()
    print_machine(facts)
    embedders = {}
    for spec in specs:
        started = time.perf_counter()
        embedders[spec] = load_embedder(spec)
        print(f"{spec}: loaded in {time.perf_counter() - started:.1f} s")
    for embedder in embedders.values():  # warm-up: first calls allocate and compile
        embedder.embed_queries(QUERIES[:2])
        embedder.embed_documents([CAPTION] * 16)

    per_query: dict[str, list[float]] = {spec: [] for spec in specs}
    per_caption: dict[str, list[float]] = {spec: [] for spec in specs}
    loads = []
    for run in range(args.runs):
        loads.append(load_average())
        for spec, embedder in embedders.items():
            times = []
            for i in range(args.queries):
                started = time.perf_counter()
                embedder.embed_queries([QUERIES[i % len(QUERIES)]])
                times.append(time.perf_counter() - started)
            per_query[spec].append(1000 * statistics.median(times))
            captions = [f"{CAPTION} ({i})" for i in range(args.captions)]
            started = time.perf_counter()
            embedder.embed_documents(captions)
            per_caption[spec].append(1000 * (time.perf_counter() - started) / args.captions)
            print(
                f"run {run + 1}: {spec}: {per_query[spec][-1]:.1f} ms per query (median), "
                f"{per_caption[spec][-1]:.1f} ms per caption; load {loads[-1]}"
            )
    result = {
        "machine": facts,
        "load_average_before_each_run": loads,
        "embedders": {
            spec: {"ms_per_query_median": spread(per_query[spec]), "ms_per_caption": spread(per_caption[spec])}
            for spec in specs
        },
    }
    for spec in specs:
        q, c = result["embedders"][spec]["ms_per_query_median"], result["embedders"][spec]["ms_per_caption"]
        print(
            f"{spec}: {q['mean']:.1f} ms per query (runs {q['min']:.1f}-{q['max']:.1f}), "
            f"{c['mean']:.1f} ms per caption (runs {c['min']:.1f}-{c['max']:.1f})"
        )
    write_out(args.out, result)


if __name__ == "__main__":
    main()
