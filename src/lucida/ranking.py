"""Pure ranking functions for hybrid search: the words of a query, rank fusion, why a photo matched.

Hybrid search ranks photos twice, by vector similarity and by BM25 over the words of their
descriptions (SQLite FTS5), and fuses the two rankings with reciprocal rank fusion (Cormack,
Clarke and Büttcher, SIGIR 2009): a photo's score is the sum over rankings of
weight / (k + rank). RRF needs no calibration between cosine and BM25 scores, and a photo whose
description holds the query's exact words rises above photos that are only similar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[int, float]]:
    """(id, fused score) best first, from rankings of ids (each best first). Ties keep the
    order of the first ranking an id appears in."""
    weights = weights if weights is not None else [1.0] * len(rankings)
    scores: dict[int, float] = {}
    first_seen: dict[int, tuple[int, int]] = {}
    for r, (ranking, weight) in enumerate(zip(rankings, weights)):
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            first_seen.setdefault(item, (r, rank))
    return sorted(scores.items(), key=lambda pair: (-pair[1], first_seen[pair[0]]))


def matched_fields(fields: dict[str, str], matched: Sequence[str]) -> dict[str, list[str]]:
    """field -> the matched words (as FTS5 marked them in the text) found in that field."""
    found: dict[str, list[str]] = {}
    for word in dict.fromkeys(m.lower() for m in matched):
        pattern = re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
        for name, text in fields.items():
            if pattern.search(text):
                found.setdefault(name, []).append(word)
    return found
