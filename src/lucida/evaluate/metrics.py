"""Caption and retrieval metrics, and the Pareto front of a speed/quality comparison.

Pure functions over dicts and lists. The numbers come from the libraries the captioning and
retrieval literature reports with (sacrebleu, rouge-score, pycocoevalcap, ir-measures), so they
can be compared with published ones; only the text normalisation is ours.
"""

from __future__ import annotations

import re
import string

# ir-measures over ranx: its backend, pytrec_eval (trec_eval's C code), is one 1 MB wheel, while
# ranx pulls numba and llvmlite (over 100 MB) and compiles its metrics on first use.
import ir_measures
from ir_measures import RR, Success, nDCG
from pycocoevalcap.cider.cider import Cider
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from lucida.errors import LucidaError

_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")
_RETRIEVAL_MEASURES = {
    "R@1": Success @ 1,
    "R@5": Success @ 5,
    "R@10": Success @ 10,
    "MRR@10": RR @ 10,
    "nDCG@10": nDCG @ 10,
}


def normalise_caption(text: str) -> str:
    """Lowercase, punctuation removed, words separated by single spaces.

    Stands in for the Stanford PTB tokenizer of the COCO caption evaluation, which needs Java.
    """
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def caption_metrics(candidates: dict[str, str], references: dict[str, list[str]]) -> dict[str, float]:
    """Corpus scores of generated captions against human references, keyed by image.

    "BLEU-1".."BLEU-4": sacrebleu corpus BLEU with that maximum n-gram order, 0-100.
    "ROUGE-L": mean over images of the best rougeL F-measure over that image's references, 0-1.
    "CIDEr": pycocoevalcap's CIDEr-D corpus score (0-10; about 1 for good COCO captioners). Its
    n-gram weights come from the references of the scored images, as in the COCO evaluation, so it
    needs many images: with one, every weight is 0 and so is the score.
    "length": mean number of words in a candidate.
    All are computed on normalised text (see `normalise_caption`).
    """
    if not candidates:
        raise LucidaError("no captions to score")
    missing = [key for key in candidates if key not in references]
    if missing:
        raise LucidaError(f"no reference captions for {missing[0]!r} ({len(missing)} captions have none)")
    keys = list(candidates)
    hypotheses = [normalise_caption(candidates[key]) for key in keys]
    refs = {key: [normalise_caption(ref) for ref in references[key]] for key in keys}
    empty = [key for key in keys if not refs[key]]
    if empty:
        raise LucidaError(f"the reference captions of {empty[0]!r} are empty")

    # sacrebleu takes reference streams parallel to the hypotheses; None pads images with fewer.
    most = max(len(refs[key]) for key in keys)
    streams = [[refs[key][n] if n < len(refs[key]) else None for key in keys] for n in range(most)]
    scores = {
        f"BLEU-{order}": BLEU(max_ngram_order=order, tokenize="none").corpus_score(hypotheses, streams).score
        for order in range(1, 5)
    }
    rouge = rouge_scorer.RougeScorer(["rougeL"])
    scores["ROUGE-L"] = sum(
        rouge.score_multi(refs[key], hypothesis)["rougeL"].fmeasure for key, hypothesis in zip(keys, hypotheses)
    ) / len(keys)
    cider, _per_image = Cider().compute_score(refs, {key: [hyp] for key, hyp in zip(keys, hypotheses)})
    scores["CIDEr"] = float(cider)
    scores["length"] = sum(len(hypothesis.split()) for hypothesis in hypotheses) / len(keys)
    return scores


def retrieval_metrics(rankings: dict[str, list[str]], relevant: dict[str, frozenset[str]]) -> dict[str, float]:
    """Text-to-image retrieval scores, averaged over every query in `relevant` (0-1).

    `rankings` maps a query id to image names, best first; a query with no ranking scores 0.
    "R@k" is the share of queries with a relevant image among the first k (the recall that
    COCO/Flickr30k retrieval papers report), "MRR@10" the mean reciprocal rank of the first relevant
    image within 10, "nDCG@10" binary-relevance nDCG.
    """
    if not relevant:
        raise LucidaError("no queries to score")
    unknown = [query for query in rankings if query not in relevant]
    if unknown:
        raise LucidaError(f"query {unknown[0]!r} has a ranking but no relevant images")
    empty = [query for query, images in relevant.items() if not images]
    if empty:
        raise LucidaError(f"query {empty[0]!r} has no relevant images")
    for query, ranked in rankings.items():
        if len(set(ranked)) != len(ranked):
            raise LucidaError(f"the ranking of query {query!r} lists an image twice")
    qrels = {query: {image: 1 for image in images} for query, images in relevant.items()}
    # trec_eval sorts by score; scores falling with rank keep the given order.
    run = {
        query: {image: float(len(ranked) - rank) for rank, image in enumerate(ranked)}
        for query, ranked in rankings.items()
        if ranked
    }
    totals = dict.fromkeys(_RETRIEVAL_MEASURES.values(), 0.0)
    for metric in ir_measures.iter_calc(list(totals), qrels, run):
        totals[metric.measure] += metric.value
    # Averaged here over all of `relevant`, so that queries without a ranking count as misses.
    return {name: totals[measure] / len(relevant) for name, measure in _RETRIEVAL_MEASURES.items()}


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For each (quality, cost) point, whether no other point is at least as good in both and better in one.

    Quality is higher-is-better (R@10), cost lower-is-better (seconds per photo).
    """
    return [
        not any(
            other_quality >= quality and other_cost <= cost and (other_quality > quality or other_cost < cost)
            for other_quality, other_cost in points
        )
        for quality, cost in points
    ]
