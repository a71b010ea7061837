"""Offline search quality on the lucida-offline set: Recall@1/5/10 and MRR per query type.

Indexes the built set (bench/build_offline_set.py) into a fresh catalog with the library's
`index_paths`, runs every query of data/eval/lucida-offline/queries.jsonl through `Searcher`, and
scores the top 10 with lucida.evaluate.metrics (ir-measures). Reports the dev half (for tuning)
and the held-out test half separately, per query type and overall, plus indexing photos/s and
CPU ms/photo (model loading and the first photo excluded, see Indexed). "en twins" are the
English queries that the non-English ones translate, so the two rows compare like with like.

    HF_HUB_OFFLINE=1 python bench/offline_quality.py --photos /tmp/lucida-offline
    HF_HUB_OFFLINE=1 python bench/offline_quality.py --photos /tmp/lucida-offline --ablation --out r.json
    HF_HUB_OFFLINE=1 python bench/offline_quality.py --describer efficientnet-lite0-imagenet+hypernyms \
        --ranking vector --conse 0

--ablation adds the signals one at a time (ABLATION below): index-time signals reindex into a
fresh catalog and are timed; search-time ones (ConSE, hybrid ranking) reuse the last index. Its
steps before "metadata" index a copy of the set built without EXIF/IPTC/XMP.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import load_average, machine, print_machine, spread, write_out
from build_offline_set import QUERIES, build

K = 10
TYPE_ORDER = ["object", "category", "scene", "colour", "text", "date", "place", "camera", "keyword", "non-english"]
ROW_ORDER = ["object", "object: subject", "object: context", *TYPE_ORDER[1:], "en twins", "all"]
METRICS = ["R@1", "R@5", "R@10", "MRR@10"]


@dataclass(frozen=True)
class Run:
    """One configuration's result: the ranking of every query, and the indexing cost."""

    name: str
    rankings: dict[str, list[str]]  # query id -> photo file names, best first (`lucida search --all`)
    answers: dict[str, list[str]]  # query id -> the photos shown by default (above the relevance cutoff)
    photos: int  # indexed in each timed run
    # one entry per timed run; empty for a search-time change that reuses the step before's index
    index_seconds: list[float]  # wall-clock
    cpu_seconds: list[float]
    load_before: list[float | None]

    def rates(self) -> tuple[dict, dict] | None:
        """The spread of photos/s and of CPU ms/photo over the timed runs."""
        if not self.index_seconds:
            return None
        return (
            spread([self.photos / s for s in self.index_seconds]),
            spread([1000 * c / self.photos for c in self.cpu_seconds]),
        )


def groups(queries) -> dict[str, list]:
    """Query type -> queries, plus "all" and "en twins" (the English queries some translation
    renders); no-answer queries are left out (they have no relevant photo to rank)."""
    queries = [q for q in queries if q.answerable]
    translated = {q.english for q in queries if q.english}
    by_group: dict[str, list] = {"all": list(queries)} if queries else {}
    for kind in TYPE_ORDER + sorted({q.type for q in queries} - set(TYPE_ORDER)):
        members = [q for q in queries if q.type == kind]
        if members:
            by_group[kind] = members
        if kind == "object":
            # the photo's subject, or a thing in its context ("a coffee grinder" on the table)
            for name, part in (("object: subject", False), ("object: context", True)):
                chosen = [q for q in members if ("context" in q.tags) == part]
                if chosen and len(chosen) < len(members):
                    by_group[name] = chosen
    twins = [q for q in queries if q.lang == "en" and q.text in translated]
    if twins:
        by_group["en twins"] = twins
    return by_group


def score(run: Run, queries) -> dict[str, dict[str, dict[str, float]]]:
    """split -> group -> metric -> value (and "n", the number of queries)."""
    from lucida.evaluate.metrics import retrieval_metrics

    result: dict[str, dict[str, dict[str, float]]] = {}
    for split in ("dev", "test"):
        in_split = [q for q in queries if q.split == split]
        result[split] = {}
        for group, members in groups(in_split).items():
            relevant = {q.id: q.relevant for q in members}
            rankings = {q.id: run.rankings.get(q.id, []) for q in members}
            metrics = retrieval_metrics(rankings, relevant)
            result[split][group] = {m: metrics[m] for m in METRICS} | {"n": len(members)}
        result[split]["cutoff"] = cutoff_outcomes(run, in_split)
    return result


def cutoff_outcomes(run: Run, queries) -> dict[str, float]:
    """What the relevance cutoff does (issue 12): the share of no-answer queries that get no
    answers, overall and for English and other languages; the share of answerable queries whose
    first relevant photo was in the top 10 of the whole ranking that still show it; the answers
    a query gets (median, mean)."""
    def share(hits: list[bool]) -> float:
        return sum(hits) / len(hits) if hits else float("nan")

    none = [q for q in queries if not q.answerable]
    kept = []
    for q in queries:
        if q.answerable:
            first = next((n for n in run.rankings.get(q.id, [])[:K] if n in q.relevant), None)
            if first is not None:
                kept.append(first in run.answers.get(q.id, []))
    counts = [len(run.answers.get(q.id, [])) for q in queries]
    return {
        "no_answer_n": len(none),
        "no_answer_empty": share([not run.answers.get(q.id) for q in none]),
        "no_answer_empty_en": share([not run.answers.get(q.id) for q in none if q.lang == "en"]),
        "no_answer_empty_other": share([not run.answers.get(q.id) for q in none if q.lang != "en"]),
        "top10_n": len(kept),
        "top10_kept": share(kept),
        "answers_median": float(sorted(counts)[len(counts) // 2]) if counts else 0.0,
        "answers_mean": sum(counts) / len(counts) if counts else 0.0,
    }


class Indexed:
    """A fresh catalog holding the set indexed with one describer and embedder, timed.

    The first photo is indexed on its own, untimed: it warms the models and pays the one-off work
    of a new catalog (embedding the classifier's class texts for ConSE), which a library of
    thousands of photos spreads thin. The rest is timed in wall-clock and in CPU seconds of this
    process and its children (Tesseract runs as one), which other load on a shared machine
    disturbs far less than wall-clock time; `repeat` times, each into a fresh catalog.
    """

    def __init__(self, photos: Path, describer_spec: str, embedder_spec: str, repeat: int = 1):
        from lucida.catalog import Catalog
        from lucida.indexer import index_paths
        from lucida.models import load_describer, load_embedder

        self.describer_spec, self.embedder_spec, self.photos_folder = describer_spec, embedder_spec, photos
        describer = load_describer(describer_spec)
        self.embedder = load_embedder(embedder_spec)
        self.folder = Path(tempfile.mkdtemp(prefix="lucida-offline-quality-"))
        first = min(photos.glob("*.jpg"))
        self.seconds, self.cpu_seconds, self.load_before = [], [], []
        for run in range(repeat):
            if run:
                self.catalog.close()
                (self.folder / "catalog.db").unlink()
            self.catalog = Catalog.open(self.folder / "catalog.db")
            index_paths(self.catalog, [str(first)], describer, self.embedder)
            self.load_before.append(load_average())
            cpu_before = os.times()
            began = time.perf_counter()
            summary = index_paths(self.catalog, [str(photos)], describer, self.embedder)
            self.seconds.append(time.perf_counter() - began)
            cpu_after = os.times()
            self.cpu_seconds.append(sum(cpu_after[i] - cpu_before[i] for i in range(4)))  # user, system, children's
            self.photos = summary.described
            if summary.skipped:
                sys.exit(f"{describer_spec}: {len(summary.skipped)} photos skipped, first: {summary.skipped[0]}")

    def search(self, name: str, queries, searcher_options: dict) -> Run:
        from lucida.search import Searcher

        searcher = Searcher(self.catalog, self.embedder, **searcher_options)
        # The whole ranking (what --all lists), deep enough to see every answer.
        pages = searcher.search_many([q.text for q in queries], k=len(list(self.photos_folder.glob("*.jpg"))), weak=True)
        rankings = {q.id: [Path(r.path).name for r in page.results] for q, page in zip(queries, pages)}
        answers = {q.id: [Path(r.path).name for r in page.results if r.answer] for q, page in zip(queries, pages)}
        return Run(name, rankings, answers, self.photos, self.seconds, self.cpu_seconds, self.load_before)

    def close(self) -> None:
        self.catalog.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _spread(values: dict, digits: int) -> str:
    """"mean (min–max)", or the one value of a single run."""
    if len(values["runs"]) == 1:
        return f"{values['mean']:.{digits}f}"
    return f"{values['mean']:.{digits}f} ({values['min']:.{digits}f}–{values['max']:.{digits}f})"


def markdown(run: Run, scores: dict) -> str:
    rates = run.rates()
    if rates:
        rate, cpu = rates
        loads = ", ".join(f"{load:.1f}" for load in run.load_before)
        cost = (
            f"indexing {run.photos} photos: {_spread(rate, 1)} photos/s, CPU {_spread(cpu, 0)} ms/photo "
            f"over {len(run.index_seconds)} runs (1-min load average before each: {loads})"
        )
    else:
        cost = "search-time change: the index of the step before"
    lines = [
        f"**{run.name}** — {cost}",
        "",
        "| query type | dev n | dev R@1 | dev R@5 | dev R@10 | dev MRR | test n | test R@1 | test R@5 | test R@10 | test MRR |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    names = [g for g in scores["dev"] if g != "cutoff"] + [g for g in scores["test"] if g not in scores["dev"] and g != "cutoff"]
    order = [g for g in ROW_ORDER if g in names] + [g for g in names if g not in ROW_ORDER]
    for group in order:
        cells = [group]
        for split in ("dev", "test"):
            row = scores[split].get(group)
            if row is None:
                cells += ["0"] + ["–"] * len(METRICS)
            else:
                cells += [str(row["n"])] + [f"{row[m]:.2f}" for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", cutoff_table(scores)]
    return "\n".join(lines)


def cutoff_table(scores: dict) -> str:
    """The relevance cutoff's outcomes per split (cutoff_outcomes)."""
    lines = [
        "| split | no-answer queries | get no answers | (English) | (other languages) | answerable, relevant in top 10 | still shown | answers per query: median, mean |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for split in ("dev", "test"):
        c = scores[split]["cutoff"]
        lines.append(
            f"| {split} | {c['no_answer_n']} | {c['no_answer_empty']:.2f} | {c['no_answer_empty_en']:.2f} | "
            f"{c['no_answer_empty_other']:.2f} | {c['top10_n']} | {c['top10_kept']:.2f} | "
            f"{c['answers_median']:.0f}, {c['answers_mean']:.1f} |"
        )
    return "\n".join(lines)


# Each step adds one signal to the step before: a describer suffix (index time), Searcher options
# (search time) or another embedder. BASE_SEARCH is the search before issue 5.
BASE_DESCRIBER = "efficientnet-lite0-imagenet"
BASE_EMBEDDER = "all-minilm-l6-v2"
BASE_SEARCH = {"ranking": "vector", "conse": 0.0, "classes": 0.0}
ABLATION = [
    ("baseline: ImageNet classes as text, MiniLM, cosine", {}),
    ("+ WordNet hypernyms", {"signal": "hypernyms"}),
    ("+ pixels (colours, light, black and white)", {"signal": "pixels"}),
    ("+ ConSE (class probabilities x class embeddings)", {"search": {"conse": 0.5}}),
    ("+ hybrid ranking (FTS5 BM25 + vector, RRF)", {"search": {"ranking": "hybrid"}}),
    ("+ class ranking (photos by the classes a query names, in the RRF)", {"search": {"classes": 1.0}}),
    ("+ multilingual-e5-small embedder", {"embedder": "multilingual-e5-small"}),
    ("+ OCR (Tesseract where text is likely)", {"signal": "ocr"}),
    ("+ people (face/person count)", {"signal": "people"}),
    ("+ metadata as words (the photos' own EXIF/IPTC/XMP: date, place, camera, keywords)", {"metadata": True}),
    # not a step: what `lucida index` and `lucida search` do with no options, on the photos with metadata
    ("library defaults (DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, Searcher's defaults)", {"defaults": True}),
]
SUMMARY = [("object", "R@10"), ("object: context", "R@10"), ("category", "R@10"), ("scene", "R@5"), ("colour", "R@10"), ("text", "R@10"),
           ("date", "R@10"), ("place", "R@10"), ("camera", "R@10"), ("keyword", "R@10"), ("non-english", "R@10"),
           ("en twins", "R@10"), ("all", "R@10"), ("all", "MRR@10")]


def chance(queries, photos: int) -> dict[str, dict[str, dict[str, float]]]:
    """Expected R@1 and R@10 of a random ranking: 1 - C(N-r, k) / C(N, k) for r relevant of N."""
    from math import comb

    result = {}
    for split in ("dev", "test"):
        in_split = [q for q in queries if q.split == split]
        result[split] = {
            group: {
                f"R@{k}": sum(1 - comb(photos - len(q.relevant), min(k, photos)) / comb(photos, min(k, photos))
                              for q in members) / len(members)
                for k in (1, 10)
            }
            for group, members in groups(in_split).items()
        }
    return result


def summary_table(split: str, rows: list[tuple[Run, dict]], chance_scores: dict) -> str:
    header = ["step", "photos/s", "CPU ms/photo"] + [f"{g} {m.replace('MRR@10', 'MRR')}" for g, m in SUMMARY]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for run, scores in rows:
        rates = run.rates()
        if rates:
            cost = [_spread(rates[0], 1), _spread(rates[1], 0)]
        else:
            cost = ["(same index)", ""]
        cells = [run.name, *cost] + [
            f"{scores[split][g][m]:.2f}" if g in scores[split] else "–" for g, m in SUMMARY
        ]
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["chance (random ranking)", "", ""] + [
        f"{chance_scores[split][g][m]:.2f}" if m in ("R@1", "R@10") and g in chance_scores[split] else "" for g, m in SUMMARY
    ]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_ablation(photos: Path, queries, repeat: int) -> list[tuple[Run, dict]]:
    """The ABLATION steps in turn. Until the "metadata" step the photos are the same set built
    without EXIF/IPTC/XMP (lucida reads metadata whenever a photo has it, so this is its switch)."""
    from lucida.errors import LucidaError

    describer, embedder, options = BASE_DESCRIBER, BASE_EMBEDDER, dict(BASE_SEARCH)
    bare = Path(tempfile.mkdtemp(prefix="lucida-offline-bare-"))
    build(bare, metadata=False)
    folder = bare
    index: Indexed | None = None
    rows = []
    try:
        for name, change in ABLATION:
            next_describer = describer + f"+{change['signal']}" if "signal" in change else describer
            next_embedder = change.get("embedder", embedder)
            next_options = options | change.get("search", {})
            next_folder = photos if change.get("metadata") else folder
            if change.get("defaults"):
                from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER

                next_describer, next_embedder, next_options, next_folder = DEFAULT_DESCRIBER, DEFAULT_EMBEDDER, {}, photos
            key = (next_describer, next_embedder, next_folder)
            fresh = index is None or key != (index.describer_spec, index.embedder_spec, index.photos_folder)
            try:
                candidate = Indexed(next_folder, next_describer, next_embedder, repeat) if fresh else index
            except LucidaError as error:
                print(f"{name}: not available ({error}); left out of the later steps", file=sys.stderr)
                continue
            if fresh and index is not None:
                index.close()
            index = candidate
            describer, embedder, options, folder = next_describer, next_embedder, next_options, next_folder
            run = index.search(name, queries, options)
            if not fresh:
                run = Run(run.name, run.rankings, run.answers, run.photos, [], [], [])
            rows.append((run, score(run, queries)))
            print(f"{name}: {describer} + {embedder}, {options}, photos in {folder}", file=sys.stderr)
    finally:
        if index is not None:
            index.close()
        shutil.rmtree(bare, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", help="the built set (default: build it into a temporary folder)")
    parser.add_argument("--queries", default=str(QUERIES), help="query file (default: the committed one)")
    parser.add_argument("--ablation", action="store_true", help="add the signals one at a time (see ABLATION)")
    parser.add_argument("--describer", help="describer spec (default: the library's default)")
    parser.add_argument("--embedder", help="embedder name (default: the library's default)")
    parser.add_argument("--ranking", help="Searcher ranking, e.g. vector or hybrid (default: the library's)")
    parser.add_argument("--conse", type=float, help="Searcher ConSE weight (default: the library's)")
    parser.add_argument("--repeat", type=int, default=1, help="timed index runs per configuration (default 1)")
    parser.add_argument("--out", help="write rankings, scores and timings as JSON to this file")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lucida.cli import INDEX_OMP_WAIT_POLICY

    # What `lucida index` sets, before torch loads: idle OpenMP threads would otherwise spin.
    os.environ.setdefault("OMP_WAIT_POLICY", INDEX_OMP_WAIT_POLICY)
    from lucida.evaluate.datasets import load_queries
    from lucida.models import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER

    queries = load_queries(args.queries)
    temp = None
    if args.photos:
        photos = Path(args.photos)
    else:
        temp = Path(tempfile.mkdtemp(prefix="lucida-offline-set-"))
        photos = temp / "photos"
        build(photos)
    try:
        facts = machine()
        print_machine(facts)
        print(f"queries: {len(queries)} ({sum(q.split == 'dev' for q in queries)} dev, "
              f"{sum(q.split == 'test' for q in queries)} test); photos: {photos}")
        if args.ablation:
            rows = run_ablation(photos, queries, args.repeat)
        else:
            describer = args.describer or DEFAULT_DESCRIBER
            embedder = args.embedder or DEFAULT_EMBEDDER
            options = {k: v for k, v in (("ranking", args.ranking), ("conse", args.conse)) if v is not None}
            index = Indexed(photos, describer, embedder, args.repeat)
            try:
                name = f"{describer} + {embedder}" + "".join(f", {k}={v}" for k, v in options.items())
                run = index.search(name, queries, options)
            finally:
                index.close()
            rows = [(run, score(run, queries))]
        for run, scores in rows:
            print()
            print(markdown(run, scores))
        chance_scores = chance(queries, len(list(photos.glob("*.jpg"))))
        for split in ("dev", "test"):
            print(f"\n{split} half, Recall@k (R@10 unless named) and MRR:\n")
            print(summary_table(split, rows, chance_scores))
        write_out(
            args.out,
            {
                "benchmark": "offline_quality",
                "machine": facts,
                "chance": chance_scores,
                "runs": [
                    {
                        "name": run.name,
                        "photos": run.photos,
                        "index_seconds": run.index_seconds,
                        "cpu_seconds": run.cpu_seconds,
                        "load_average_before": run.load_before,
                        "scores": scores,
                        "rankings": run.rankings,
                    }
                    for run, scores in rows
                ],
            },
        )
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
