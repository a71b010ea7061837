"""What a user typed, split into what the photos should show and what they must not.

`beach -people`, `a beach without people`, `a dog, no grass`, `cars -"red car"`: a word (or a
quoted phrase) after a minus sign, or the words after "without" / "no" (and the same in French,
German, Spanish, Italian) up to the end, a comma or "and"/"with", name something to exclude.
The rest is the query.
Search removes the photos whose words hold an excluded term, and those that would be answers to
it as a query of its own (lucida.search), so "-people" also drops a photo described as "a crowd".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lucida.errors import LucidaError

# Words that open an exclusion, and words that end one ("a dog without a leash and a ball").
_WITHOUT = {"without", "no", "sans", "ohne", "kein", "keine", "keinen", "sin", "senza", "nessun", "nessuna"}
_ENDS = {"and", "with", "but", "et", "avec", "und", "mit", "y", "con", "e"}
_TOKEN = re.compile(r'-"[^"]+"|"[^"]*"|[^\s,;]+|[,;]')


@dataclass(frozen=True)
class ParsedQuery:
    text: str  # what the photos should show, as typed (without the exclusions)
    excluded: tuple[str, ...] = ()  # terms no shown photo may have, each once, as typed


def parse_query(query: str) -> ParsedQuery:
    """Split a query into what to find and what to exclude. A LucidaError when nothing is left
    to find ("-people" alone)."""
    tokens = _TOKEN.findall(query)
    kept: list[str] = []
    excluded: list[str] = []
    current: list[str] | None = None  # words of an open "without ..." exclusion
    for token in tokens:
        lower = token.lower()
        if current is not None:
            if token in (",", ";") or lower in _ENDS:
                _close(current, excluded)
                current = None
                if token not in (",", ";"):
                    kept.append(token)  # "a dog without a leash and a ball": "and a ball" is wanted
                continue
            if not current and lower in {"a", "an", "any", "the", "de", "d'", "un", "une", "des"}:
                continue  # "without a leash": the article says nothing
            current.append(token)
            continue
        if token.startswith("-") and len(token) > 1 and not token[1:].lstrip("-").isdigit():
            excluded.append(token[1:].strip('"'))
        elif lower in _WITHOUT and kept:
            current = []  # "without" needs something before it to be an exclusion, not a query
        else:
            kept.append(token)
    if current is not None:
        _close(current, excluded)
    text = " ".join(kept).replace(" ,", ",").replace(" ;", ";").strip(" ,;")
    if excluded and not text:
        raise LucidaError(f"say what the photos should show, not only what they must not: {query!r}")
    if not excluded:
        return ParsedQuery(query)
    return ParsedQuery(text, tuple(dict.fromkeys(e for e in excluded if e.strip())))


def _close(words: list[str], excluded: list[str]) -> None:
    if words:
        excluded.append(" ".join(words))
