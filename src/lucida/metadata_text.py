"""A photo's metadata as the words people search with: "June 2021, summer, evening", the camera,
the place its GPS position is in, and the title, caption and keywords already written into it.

Place names come from an offline gazetteer: `reverse_geocoder` ships GeoNames' table of places
with 1,000 or more people and finds the nearest, and `pycountry` names its country.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
# Meteorological seasons of the northern hemisphere, by month; the southern one is six months on.
_NORTHERN_SEASONS = ("winter", "winter", "spring", "spring", "spring", "summer",
                     "summer", "summer", "autumn", "autumn", "autumn", "winter")
_OTHER_SEASON = {"winter": "summer", "summer": "winter", "spring": "autumn", "autumn": "spring"}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Place:
    name: str  # the nearest place with 1,000 or more people
    region: str  # first-level division: state, province, region
    country: str


def date_words(taken_at: str | None, latitude: float | None = None) -> str:
    """ "June 2021, summer, a Saturday" from an ISO 8601 capture time; "" when there is none.
    South of the equator the seasons are the other way round."""
    moment = _parse(taken_at)
    if moment is None:
        return ""
    season = _NORTHERN_SEASONS[moment.month - 1]
    if latitude is not None and latitude < 0:
        season = _OTHER_SEASON[season]
    return f"{_MONTHS[moment.month - 1]} {moment.year}, {season}, a {_WEEKDAYS[moment.weekday()]}"


def time_words(taken_at: str | None) -> str:
    """The part of the day of a local capture time: morning, afternoon, evening or night."""
    moment = _parse(taken_at)
    if not isinstance(moment, datetime) or taken_at is None or "T" not in taken_at:
        return ""
    hour = moment.hour
    if 5 <= hour < 12:
        return "in the morning"
    if 12 <= hour < 17:
        return "in the afternoon"
    if 17 <= hour < 21:
        return "in the evening"
    return "at night"


def camera_words(make: str | None, model: str | None, lens: str | None) -> str:
    """ "camera NIKON Z 6, lens NIKKOR Z 24-70mm f/4 S"; the make is left out when the model
    already starts with it (Canon writes "Canon" and "Canon EOS R5")."""
    parts = []
    brand = (make or "").split(" ")[0]
    if model:
        same_brand = brand and model.lower().startswith(brand.lower())
        parts.append(f"camera {model if same_brand or not brand else f'{brand} {model}'}")
    elif make:
        parts.append(f"camera {make}")
    if lens:
        parts.append(f"lens {lens}")
    return ", ".join(parts)


def place_words(place: Place | None) -> str:
    if place is None:
        return ""
    names = [n for n in (place.name, place.region, place.country) if n]
    return "in " + ", ".join(dict.fromkeys(names))


def metadata_fields(metadata, place: Place | None = None) -> dict[str, str]:
    """field -> words, for a lucida.metadata.PhotoMetadata (any object with its attributes);
    fields the photo says nothing about are left out."""
    keywords = list(dict.fromkeys([*metadata.keywords, *_leaf_keywords(getattr(metadata, "hierarchical_keywords", ()))]))
    fields = {
        "date": date_words(metadata.taken_at, metadata.latitude),
        "time": time_words(metadata.taken_at),
        "place": place_words(place),
        "camera": camera_words(metadata.make, metadata.model, metadata.lens),
        "title": metadata.title or "",
        "caption": metadata.description or "",
        "keywords": ", ".join(keywords),
    }
    return {name: _one_line(words) for name, words in fields.items() if words and words.strip()}


def metadata_text(fields: dict[str, str]) -> str:
    return " ".join(words if words.endswith(".") else f"{words}." for words in fields.values())


class Gazetteer:
    """Coordinates -> the nearest place's name, offline. Loads GeoNames' table (~2 s) on first use."""

    def __init__(self):
        self._geocoder = None

    def places(self, positions: list[tuple[float, float]]) -> list[Place]:
        if not positions:
            return []
        if self._geocoder is None:
            import reverse_geocoder

            # mode 1: one process; the default forks a pool, which a web server must not do.
            self._geocoder = reverse_geocoder.RGeocoder(mode=1, verbose=False)
        return [
            Place(found["name"], found["admin1"], _country(found["cc"]))
            for found in self._geocoder.query(positions)
        ]


def _country(code: str) -> str:
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def _leaf_keywords(hierarchical: tuple[str, ...]) -> list[str]:
    """Every level of Lightroom's "places|South Africa|Cape Town" is a keyword of its own."""
    return [level.strip() for path in hierarchical for level in path.split("|") if level.strip()]


def _parse(taken_at: str | None) -> datetime | date | None:
    if not taken_at:
        return None
    try:
        if "T" in taken_at:
            return datetime.fromisoformat(taken_at)
        return date.fromisoformat(taken_at[:10])
    except ValueError:
        return None


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def update_metadata_descriptions(catalog, gazetteer: Gazetteer | None = None) -> int:
    """Bring every filed image's metadata description (describer "metadata") in line with its
    stored metadata: hybrid search finds its words (dates, places, cameras, keywords). Only
    images whose metadata changed are written; returns how many."""
    from lucida.catalog.store import METADATA_DESCRIBER

    stored = catalog.description_details(METADATA_DESCRIBER)
    metadata = catalog.image_metadata(catalog.filed_image_ids())
    changed = {}
    for image_id, facts in metadata.items():
        signature = hashlib.sha256(repr(facts).encode("utf-8")).hexdigest()
        if (stored.get(image_id) or {}).get("metadata") != signature:
            changed[image_id] = (facts, signature)
    gone = [image_id for image_id in stored if image_id not in metadata]
    if not changed and not gone:
        return 0
    located = [(i, (f.latitude, f.longitude)) for i, (f, _) in changed.items() if f.latitude is not None and f.longitude is not None]
    gazetteer = gazetteer or Gazetteer()
    places = dict(zip([i for i, _ in located], gazetteer.places([p for _, p in located])))
    with catalog.transaction():
        for image_id, (facts, signature) in changed.items():
            fields = metadata_fields(facts, places.get(image_id))
            if fields:
                details = {"fields": fields, "metadata": signature}
                catalog.put_description(image_id, METADATA_DESCRIBER, "", metadata_text(fields), details)
            elif image_id in stored:
                catalog.delete_description(image_id, METADATA_DESCRIBER)
        for image_id in gone:
            catalog.delete_description(image_id, METADATA_DESCRIBER)
    return len(changed) + len(gone)
