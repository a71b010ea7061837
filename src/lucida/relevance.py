"""Calibrated relevance: the probability that a photo answers a query, and the cutoff below which a
ranked photo is not an answer.

Rank fusion orders photos but its values mean nothing across queries (0.066 for the best match of
one query, 0.016 of another), and cosine scales differ between embedding spaces. So each space
has a logistic model, fitted on the dev half of data/eval/lucida-offline (answerable and
no-answer queries) by bench/calibrate_relevance.py, over a few pieces of evidence per photo:

- the photo's cosine similarity to the query, and the same similarity in standard deviations
  above the query's similarity to the 1,000 ImageNet class texts (a reference that does not
  depend on the library, so a library full of cats does not lower a cat's score);
- whether the photo's words (description, metadata) hold every content word of the query, or
  any (BM25's candidates, SQLite FTS5);
- how likely the classifier thinks the photo shows the classes the query names, how clearly the
  query names one class at all, and the two together (a query that names a zebra, and a photo
  the classifier gives little zebra to).

Its output is a score in 0..1 that means the same for every query; `threshold` is the score from
which a photo counts as an answer. docs/benchmarks.md has the fit, the threshold's derivation and
what it does on the held-out half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The evidence a model weighs, in this order (see evidence()).
FEATURES = ("similarity", "similarity_z", "every_word", "some_word", "class_score", "class_peak", "class_miss")


@dataclass(frozen=True)
class Calibration:
    """A logistic model of P(relevant | evidence) for one embedding space, and its cutoff."""

    space: str  # the embedder it was fitted for ("" for the fallback)
    weights: tuple[float, ...]  # one per FEATURES entry
    bias: float
    threshold: float  # a photo is an answer from this probability on

    def relevance(self, evidence: np.ndarray) -> np.ndarray:
        """P(relevant) for each row of an (n, len(FEATURES)) evidence array."""
        logits = evidence @ np.asarray(self.weights, dtype=np.float32) + np.float32(self.bias)
        return _probability(logits)

    def relevance_of(
        self,
        similarity: np.ndarray,
        class_similarity: np.ndarray | None,
        every_word: np.ndarray,
        some_word: np.ndarray,
        class_score: np.ndarray,
    ) -> np.ndarray:
        """relevance(evidence(...)) for a whole catalog, without building the evidence: the model
        is linear in each feature, the z-score is linear in the similarity, and the word and class
        evidence is zero for most photos, so this costs a few passes over the similarities
        (about 1 ms at 100,000 photos, against 10 ms for the (n, 7) array)."""
        w = self.weights
        mean, spread, peak = _class_statistics(class_similarity)
        slope = w[0] + w[1] / spread
        # A photo with no class score misses the query's class fully: class_miss = class_peak.
        intercept = self.bias - w[1] * mean / spread + (w[5] + w[6]) * peak
        logits = similarity * np.float32(slope) + np.float32(intercept)
        logits[every_word] += np.float32(w[2])
        logits[some_word] += np.float32(w[3])
        scored = np.flatnonzero(class_score)
        if len(scored):
            score = class_score[scored]
            logits[scored] += np.float32(w[4]) * score - np.float32(w[6] * peak) * np.sqrt(np.clip(score, 0.0, 1.0))
        return _probability(logits)


def _probability(logits: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)


def _class_statistics(class_similarity: np.ndarray | None) -> tuple[float, float, float]:
    """(mean, spread, peak) of a query's similarities to the class texts: what turns a cosine into
    standard deviations above them (similarity_z) and how clearly the query names one class
    (class_peak). Without class texts z is 0, which a zero mean and an infinite spread give."""
    if class_similarity is None or len(class_similarity) <= 1:
        return 0.0, float("inf"), 0.0
    mean = float(class_similarity.mean())
    spread = float(class_similarity.std()) + 1e-6
    return mean, spread, float((class_similarity.max() - mean) / spread)


def evidence(
    similarity: np.ndarray,
    class_similarity: np.ndarray | None,
    every_word: np.ndarray,
    some_word: np.ndarray,
    class_score: np.ndarray,
) -> np.ndarray:
    """The (n, len(FEATURES)) evidence for n photos: their cosine `similarity` to the query, the
    query's similarity to each class text (None when the space has no class texts: z is then 0),
    0/1 arrays for holding every query word and any, and the class score."""
    mean, spread, peak = _class_statistics(class_similarity)
    z = (similarity - mean) / spread
    peak_column = np.full_like(similarity, peak)
    # A query that names one class clearly ("a zebra") and a photo the classifier gives little of
    # it: evidence against, which similarity alone misses (a zebra query is near a horse photo).
    miss = peak_column * (1.0 - np.sqrt(np.clip(class_score, 0.0, 1.0)))
    return np.stack([similarity, z, every_word, some_word, class_score, peak_column, miss], axis=1).astype(np.float32)


# Fitted by bench/calibrate_relevance.py on the dev half of lucida-offline, photos described by
# the default describer (docs/benchmarks.md, "Issue 12"). Each threshold is the highest that keeps
# 95% of the dev queries' first relevant photo in the top 10 an answer.
CALIBRATIONS: dict[str, Calibration] = {
    c.space: c
    for c in (
        Calibration("all-minilm-l6-v2", (3.0823, 0.2458, 4.5279, 1.3945, -0.1803, 0.6545, -1.2708), 1.4058, 0.435),
        Calibration("multilingual-e5-small", (28.8694, 0.2584, 4.1928, 1.4142, -1.5983, 1.2266, -2.0102), -21.7501, 0.463),
    )
}
# For an embedding space nobody calibrated (a hub or API embedder): one model fitted on both
# calibrated spaces' dev evidence at once without the raw similarity, whose scale is each space's
# own, so it leans on what the spaces share (similarity against the class texts, words, classes).
# On lucida-offline it keeps 92-99% of the first relevant photos and shows more weak matches.
FALLBACK = Calibration("", (0.0, 0.3432, 4.3479, 1.2862, 0.1083, 1.4974, -2.0751), 1.2145, 0.442)

# An excluded term ("-people") removes a photo by meaning alone only from this relevance on: far
# above the answer cutoffs, because hiding a photo the user wants costs more than showing one
# more they don't, and a weak match is no evidence that the photo shows the thing. (Its words
# remove it at any relevance.)
EXCLUDED_FROM = 0.9


def calibration_for(space: str) -> Calibration:
    """The calibration of an embedding space (an embedder's name), or the fallback."""
    return CALIBRATIONS.get(space, FALLBACK)
