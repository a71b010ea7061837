"""What a metadata filter asks of a photo, as storage sees it: plain values, already parsed.

`lucida.filters` turns what a user typed into a PhotoFilter; each catalog backend turns a
PhotoFilter into its own query (the SQLite one: `Catalog.filtered_image_ids`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhotoFilter:
    """Conditions a photo must meet; None (or empty) where there is none. A photo passes when
    one of its files passes every condition."""

    taken_from: str | None = None  # inclusive lower bound on the ISO local capture time, "2021-06"
    taken_before: str | None = None  # exclusive upper bound, "2021-07"
    camera: str | None = None  # words found in make + model, any case
    lens: str | None = None
    focal_min: float | None = None  # mm
    focal_max: float | None = None
    min_rating: int | None = None
    label: str | None = None  # colour label, any case
    folder: str | None = None  # absolute folder; files anywhere under it
    extensions: frozenset[str] = frozenset()  # lower-case, with the dot
    has_gps: bool = False
    people: tuple[str, ...] = ()  # named people who must all be in the photo (lucida.people)
    cluster: int | None = None  # an unnamed group of faces one of which must be in the photo

    @property
    def active(self) -> bool:
        return self != PhotoFilter()
