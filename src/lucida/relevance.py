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
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)


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
    if class_similarity is not None and len(class_similarity) > 1:
        spread = class_similarity.std() + 1e-6
        z = (similarity - class_similarity.mean()) / spread
        peak = float((class_similarity.max() - class_similarity.mean()) / spread)
    else:
        z = np.zeros_like(similarity)
        peak = 0.0
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
