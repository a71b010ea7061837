"""Pure ranking functions for hybrid search: the words of a query, the top k, rank fusion values,
why a photo matched.

Hybrid search orders photos by calibrated relevance (lucida.relevance), which weighs similarity,
the query's words and classes at once. A result still says where it stood in each ranking and
their reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): the sum over rankings of
weight / (k + rank), how lucida ordered results before relevance was calibrated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from lucida.languages import english_equivalents

# The constant of Cormack et al.; it damps the difference between the very first ranks.
RRF_K = 60
# Words that say nothing about what a photo shows; matching them would rank every photo.
STOPWORDS = frozenset(
    """a an the of in on at to for from with without by and or but not no is are was were be
    been being this that these those it its my our your their his her there here some any all
    photo photos picture pictures image images pic pics shot shots show shows showing me find
    taken something anything""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def query_words(query: str) -> list[str]:
    """The words of a query that can match a description, lower case, each once; then the
    English words it names in another language, as the date, place and colour words are English
    ("Fotos vom Dezember": fotos, vom, dezember, december; lucida.languages)."""
    words = [w.lower() for w in _WORD.findall(query)] + english_equivalents(query)
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w not in STOPWORDS))


def fused_value(ranks: Sequence[int | None], weights: Sequence[float], k: int = RRF_K) -> float:
    """An item's reciprocal rank fusion score (Cormack et al., SIGIR 2009) from its 1-based rank
    in each ranking (None: not in it): Σ weight / (k + rank)."""
    return sum(weight / (k + rank) for rank, weight in zip(ranks, weights) if rank is not None)


def matched_fields(fields: dict[str, str], matched: Sequence[str]) -> dict[str, list[str]]:
    """field -> the matched words (as FTS5 marked them in the text) found in that field."""
    found: dict[str, list[str]] = {}
    for word in dict.fromkeys(m.lower() for m in matched):
        pattern = re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
        for name, text in fields.items():
            if pattern.search(text):
                found.setdefault(name, []).append(word)
    return found


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, highest first (ties by lower index)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return candidates[np.lexsort((candidates, -scores[candidates]))]
