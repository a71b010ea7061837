"""Metadata as words: dates, seasons by hemisphere, times of day, cameras, places, keywords."""

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from lucida.catalog import Catalog
from lucida.indexer import index_paths
from lucida.metadata_text import (
    Gazetteer, Place, camera_words, date_words, metadata_fields, metadata_text, time_words,
)
from lucida.search import Searcher

from test_metadata import exiftool, make_sidecar


@dataclass(frozen=True)
class _Metadata:  # the attributes of lucida.metadata.PhotoMetadata that the words come from
    taken_at: str | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    title: str | None = None
    description: str | None = None
    keywords: tuple[str, ...] = ()
    hierarchical_keywords: tuple[str, ...] = ()


def test_dates_and_seasons_by_hemisphere():
    assert date_words("2021-06-05T14:03:22+02:00") == "June 2021, summer, a Saturday"
    assert date_words("2021-06-05T14:03:22", latitude=-33.9) == "June 2021, winter, a Saturday"
    assert date_words("2019-12-24") == "December 2019, winter, a Tuesday"
    assert date_words(None) == "" and date_words("not a date") == ""


def test_times_of_day():
    assert time_words("2021-06-05T07:30:00") == "in the morning"
    assert time_words("2021-06-05T14:00:00+02:00") == "in the afternoon"
    assert time_words("2021-06-05T19:10:00") == "in the evening"
    assert time_words("2021-06-05T23:59:00") == "at night"
    assert time_words("2021-06-05T03:00:00") == "at night"
    assert time_words("2021-06-05") == ""  # a date alone says nothing about the hour


def test_camera_words_do_not_repeat_the_brand():
    assert camera_words("Canon", "Canon EOS R5", "RF24-105mm F4 L IS USM") == "camera Canon EOS R5, lens RF24-105mm F4 L IS USM"
    assert camera_words("NIKON CORPORATION", "NIKON Z 6", None) == "camera NIKON Z 6"
    assert camera_words("FUJIFILM", "X-T4", None) == "camera FUJIFILM X-T4"
    assert camera_words(None, None, None) == ""


def test_fields_and_text():
    metadata = _Metadata(
        taken_at="2018-08-12T19:45:00", make="Apple", model="iPhone 8", latitude=-33.92, longitude=18.42,
        title="Sundowners", description="Table Mountain\nat dusk", keywords=("holiday", "mountain"),
        hierarchical_keywords=("places|South Africa|Cape Town",),
    )
    fields = metadata_fields(metadata, Place("Cape Town", "Western Cape", "South Africa"))
    assert fields == {
        "date": "August 2018, winter, a Sunday",
        "time": "in the evening",
        "place": "in Cape Town, Western Cape, South Africa",
        "camera": "camera Apple iPhone 8",
        "title": "Sundowners",
        "caption": "Table Mountain at dusk",
        "keywords": "holiday, mountain, places, South Africa, Cape Town",
    }
    assert metadata_text({"date": "June 2021", "place": "in Paris."}) == "June 2021. in Paris."
    assert metadata_fields(_Metadata()) == {}


def test_offline_gazetteer_names_real_places():
    cape_town, new_york, paris = Gazetteer().places([(-33.9249, 18.4241), (40.7128, -74.0060), (48.8566, 2.3522)])
    assert cape_town == Place("Cape Town", "Western Cape", "South Africa")
    assert new_york.country == "United States" and new_york.region == "New York"
    assert paris.name == "Paris" and paris.country == "France"


needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool (make system-deps)")


@needs_exiftool
def test_metadata_words_find_photos_by_date_place_camera_and_keyword(tmp_path, sample_photos, describer, embedder):
    photos = tmp_path / "photos"
    shutil.copytree(sample_photos, photos)
    exiftool(
        "-DateTimeOriginal=2018:08:12 19:45:00", "-Make=Apple", "-Model=iPhone 8",
        "-GPSLatitude=33.92", "-GPSLatitudeRef=S", "-GPSLongitude=18.42", "-GPSLongitudeRef=E",
        "-XMP:Subject=sundowner", "-XMP:Title=Table Mountain", photos / "coffee.jpg",
    )
    exiftool("-DateTimeOriginal=2019:01:20 07:10:00", "-Make=FUJIFILM", "-Model=X-T4", photos / "chelsea.jpg")
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
        def first(query):
            best = Searcher(catalog, embedder).search(query, k=1)[0]
            return Path(best.path).name, best.why["words"]

        assert first("photos from Cape Town") == ("coffee.jpg", {"place": ["cape", "town"]})
        assert first("South Africa")[0] == "coffee.jpg"
        assert first("winter 2018")[0] == "coffee.jpg"  # August, south of the equator
        assert first("fujifilm x-t4") == ("chelsea.jpg", {"camera": ["fujifilm", "t4"]})
        assert first("morning")[0] == "chelsea.jpg"
        assert first("sundowner")[0] == "coffee.jpg"
        # The words are searched, never embedded, and not what the result's caption shows.
        assert catalog.status().embedders == {embedder.name: 17}
        assert "Cape Town" not in Searcher(catalog, embedder).search("photos from Cape Town", k=1)[0].caption

        # A tag written into the photo changes its content: the next run reads it, and the words follow.
        exiftool("-XMP:Subject=braai", photos / "coffee.jpg")
        index_paths(catalog, [str(photos)], describer, embedder)
        assert first("braai")[0] == "coffee.jpg"
        # A sidecar changes the metadata but not the photo: the words follow all the same.
        make_sidecar(photos / "coffee.xmp", "-XMP:Subject=potjie")
        index_paths(catalog, [str(photos)], describer, embedder)
        assert first("potjie") == ("coffee.jpg", {"keywords": ["potjie"]})
