"""Search by metadata: filters a photographer sets (dates, camera, lens, focal length, rating,
colour label, folder, file type, GPS), parsed from what a user typed into a `PhotoFilter`.

A filter narrows the candidates before ranking, so `-k 10` gives the ten best photos that pass.
The catalog turns a PhotoFilter into SQL (`Catalog.filtered_image_ids`); a photo passes when
one of its files passes every condition.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from typing import Literal

import numpy as np

from lucida.catalog import Catalog
from lucida.catalog.filter import PhotoFilter
from lucida.errors import LucidaError
from lucida.formats import RAW_EXTENSIONS, SUPPORTED_EXTENSIONS
from lucida.search import RankedPage, Searcher, SearchResult

Sort = Literal["relevance", "date"]
SORTS: tuple[Sort, ...] = ("relevance", "date")

# --type names for groups of extensions; any supported extension ("nef", "png") names itself.
FILE_TYPES: dict[str, frozenset[str]] = {
    "raw": RAW_EXTENSIONS,
    "jpeg": frozenset({".jpg", ".jpeg"}),
    "jpg": frozenset({".jpg", ".jpeg"}),
    "heic": frozenset({".heic", ".heif"}),
    "heif": frozenset({".heic", ".heif"}),
    "tiff": frozenset({".tif", ".tiff"}),
}


def parse_filter(
    taken_from: str | None = None,
    taken_to: str | None = None,
    camera: str | None = None,
    lens: str | None = None,
    focal: str | None = None,
    min_rating: int | None = None,
    label: str | None = None,
    folder: str | None = None,
    types: str | None = None,
    has_gps: bool = False,
    people: tuple[str, ...] | list[str] = (),
) -> PhotoFilter:
    """A PhotoFilter from the words a user typed (CLI options, API query parameters).

    Dates are YYYY, YYYY-MM or YYYY-MM-DD, and both ends are inclusive: `--to 2021-06` includes
    all of June. Focal is "MIN-MAX", "MIN-" or "-MAX" in mm, or one number for exactly that.
    Types are comma-separated: raw, jpeg, heic, tiff or any extension lucida reads (nef, png).
    People are names the user gave (lucida.people); each must be in the photo.
    """
    start = _period(taken_from, "--from")[0] if taken_from else None
    end = _period(taken_to, "--to")[1] if taken_to else None
    if start and end and start >= end:
        raise LucidaError(f"--from {taken_from} is after --to {taken_to}")
    focal_min, focal_max = _focal_range(focal) if focal else (None, None)
    if min_rating is not None and not -1 <= min_rating <= 5:
        raise LucidaError(f"--min-rating must be between -1 and 5, not {min_rating}")
    return PhotoFilter(
        taken_from=start,
        taken_before=end,
        camera=_words(camera),
        lens=_words(lens),
        focal_min=focal_min,
        focal_max=focal_max,
        min_rating=min_rating,
        label=_words(label),
        folder=os.path.abspath(os.path.expanduser(folder)).rstrip(os.sep) or os.sep if folder else None,
        extensions=_extensions(types) if types else frozenset(),
        has_gps=has_gps,
        people=tuple(dict.fromkeys(n for n in (" ".join(p.split()) for p in people) if n)),
    )


def _period(text: str, option: str) -> tuple[str, str]:
    """The first day of the period `text` names and the first day after it, as ISO dates."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", text.strip())
    try:
        if not match:
            raise ValueError
        year, month, day = (int(g) if g else None for g in match.groups())
        if day is not None:
            first = date(year, month, day)  # type: ignore[arg-type]
            after = first + timedelta(days=1)
        elif month is not None:
            first = date(year, month, 1)  # type: ignore[arg-type]
            after = date(year + (month == 12), month % 12 + 1, 1)  # type: ignore[arg-type]
        else:
            first, after = date(year, 1, 1), date(year + 1, 1, 1)  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        raise LucidaError(f"{option} {text!r} is not a date; write YYYY, YYYY-MM or YYYY-MM-DD") from None
    return first.isoformat(), after.isoformat()


def _focal_range(text: str) -> tuple[float | None, float | None]:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)?\s*(?:(-)\s*(\d+(?:\.\d+)?)?)?\s*(?:mm)?\s*", text)
    if not match or not (match.group(1) or match.group(3)):
        raise LucidaError(f"--focal {text!r} is not a range; write MIN-MAX in mm, e.g. 24-70, 200- or -35")
    low = float(match.group(1)) if match.group(1) else None
    high = float(match.group(3)) if match.group(3) else None
    if match.group(2) is None:  # one number: exactly that focal length
        high = low
    if low is not None and high is not None and low > high:
        raise LucidaError(f"--focal {text!r}: the shorter focal length comes first")
    return low, high


def _extensions(text: str) -> frozenset[str]:
    found: set[str] = set()
    for name in (n.strip().lower().lstrip(".") for n in text.split(",")):
        if not name:
            continue
        if name in FILE_TYPES:
            found |= FILE_TYPES[name]
        elif f".{name}" in SUPPORTED_EXTENSIONS:
            found.add(f".{name}")
        else:
            known = ", ".join(sorted({*FILE_TYPES, *(e[1:] for e in SUPPORTED_EXTENSIONS)}))
            raise LucidaError(f"--type {name!r} is not a type lucida indexes; use one of {known}")
    return frozenset(found)


def _words(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None


def search_filtered(
    searcher: Searcher,
    query: str | None,
    photo_filter: PhotoFilter,
    k: int = 20,
    offset: int = 0,
    sort: Sort = "relevance",
    vector: np.ndarray | None = None,
) -> list[SearchResult]:
    """The photos that pass the filter: the k best for the query after skipping `offset`, in
    order of relevance, or of capture time with sort="date" (the same k photos, oldest first).

    Without a query, every photo that passes, oldest first, k at a time (score 0: nothing was
    ranked). Capture times compare as local times; photos with none come last.
    """
    return rank_page(searcher, query, passing_ids(searcher.catalog, photo_filter), k, offset, sort, vector).results


def rank_page(
    searcher: Searcher,
    query: str | None,
    only: list[int] | None,
    k: int = 20,
    offset: int = 0,
    sort: Sort = "relevance",
    vector: np.ndarray | None = None,
    weak: bool = True,
    explain: bool = True,
) -> RankedPage:
    """search_filtered among the image ids `only` a filter let through (None: every photo), with
    the counts: how many answers (relevance at or above the cutoff) and how many ranked in all.
    `weak=False`: the answers only, and sort="date" orders those. Without a query every passing
    photo is an answer. `vector`: the query's embedding when it was made elsewhere (the web app
    batches them). `explain=False`: the results without `why`."""
    catalog = searcher.catalog
    if sort not in SORTS:
        raise LucidaError(f"--sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if query is not None:
        vectors = None if vector is None else np.asarray(vector, dtype=np.float32).reshape(1, -1)
        [page] = searcher.search_many([query], k, offset, only, weak, vectors, explain)
        # By date, the answers stay ahead of the weaker matches.
        answers = in_order([r for r in page.results if r.answer], sort)
        weaker = in_order([r for r in page.results if not r.answer], sort)
        return RankedPage(answers + weaker, page.answers, page.ranked, page.searched)
    if k < 1 or offset < 0:
        raise LucidaError(f"-k must be at least 1 and offset 0 or more, not {k} and {offset}")
    times = catalog.capture_times()
    candidates = set(times) if only is None else set(only) & set(times)
    ids = sorted(candidates, key=lambda i: (_date_order(times[i]), i))[offset : offset + k]
    rows = catalog.result_rows(ids)
    results = [
        SearchResult(r.path, 0.0, r.caption, i, r.describer, r.width, r.height, r.taken_at)
        for i in ids
        if (r := rows.get(i)) is not None
    ]
    passing = searcher.candidates(only)
    return RankedPage(results, passing, passing)


def passing_ids(catalog: Catalog, photo_filter: PhotoFilter) -> list[int] | None:
    """The image ids the filter lets through; None when it lets every photo through."""
    return catalog.filtered_image_ids(photo_filter) if photo_filter.active else None


def in_order(results: list[SearchResult], sort: Sort) -> list[SearchResult]:
    """Ranked results in the order asked for: as ranked, or by capture time (oldest first)."""
    if sort not in SORTS:
        raise LucidaError(f"--sort must be one of {', '.join(SORTS)}, not {sort!r}")
    return sorted(results, key=lambda r: _date_order(r.taken_at)) if sort == "date" else results


def _date_order(taken_at: str | None) -> tuple[bool, str]:
    return (taken_at is None, taken_at or "")
