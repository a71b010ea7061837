"""Search by metadata: filters against hand-made EXIF/XMP that the real ExifTool wrote into real
sample photos, through the library, the CLI and the HTTP API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from PIL import Image

from lucida.catalog import open_catalog
from lucida.errors import LucidaError
from lucida.filters import PhotoFilter, parse_filter, rank_page, search_filtered
from lucida.indexer import index_paths
from lucida.search import Searcher
from lucida.web import create_app

from test_cli import run
from test_metadata import exiftool, make_sidecar
from test_web_api import serving

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool (make system-deps)")

# name -> the tags ExifTool writes into it before indexing
TAGGED = {
    "astronaut.jpg": [
        "-DateTimeOriginal=2021:06:05 14:03:22", "-OffsetTimeOriginal=+02:00", "-Make=NIKON CORPORATION",
        "-Model=NIKON Z 6", "-LensModel=NIKKOR Z 24-70mm f/4 S", "-FocalLength=35", "-XMP:Rating=4",
        "-XMP:Label=Red", "-GPSLatitude=48.85", "-GPSLatitudeRef=N", "-GPSLongitude=2.35", "-GPSLongitudeRef=E",
    ],
    "coffee.jpg": [
        "-DateTimeOriginal=2021:12:31 23:59:59", "-Make=Canon", "-Model=Canon EOS R5",
        "-LensModel=RF100-500mm F4.5-7.1 L IS USM", "-FocalLength=400", "-XMP:Rating=2", "-XMP:Label=Blue",
    ],
    "chelsea.jpg": [
        "-DateTimeOriginal=2022:01:01 00:00:01", "-Make=NIKON CORPORATION", "-Model=NIKON D850",
        "-LensModel=AF-S NIKKOR 70-200mm f/2.8E FL ED VR", "-FocalLength=70",
    ],
    "rocket.jpg": ["-DateTimeOriginal=2020:02:29 12:00:00", "-Make=Canon", "-Model=Canon EOS R5", "-FocalLength=24"],
}  # fmt: skip


@pytest.fixture(scope="module")
def library(tmp_path_factory, sample_photos, describer, embedder, module_catalog_location) -> dict:
    root = tmp_path_factory.mktemp("filters")
    photos = root / "photos"
    shutil.copytree(sample_photos, photos)
    for name, tags in TAGGED.items():
        exiftool(*tags, photos / name)
    # chelsea's rating and label come from a sidecar only, as Lightroom would write them
    make_sidecar(photos / "chelsea.xmp", "-XMP:Rating=5", "-XMP:Label=red")
    (photos / "trip").mkdir()
    shutil.move(photos / "rocket.jpg", photos / "trip" / "rocket.jpg")
    with Image.open(photos / "moon.jpg") as moon:
        moon.save(photos / "moon-copy.png")  # not "moon.png": that would pair with moon.jpg
    db = module_catalog_location
    with open_catalog(db) as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
    return {"db": db, "photos": photos}


@pytest.fixture
def searcher(library, embedder):
    with open_catalog(library["db"], create=False) as catalog:
        yield Searcher(catalog, embedder)


def names(results) -> list[str]:
    return [Path(r.path).name for r in results]


def found(searcher, query="a photo", k=50, **options) -> list[str]:
    sort = options.pop("sort", "relevance")
    return names(search_filtered(searcher, query, parse_filter(**options), k, sort=sort))


def test_each_filter_lets_through_exactly_the_photos_whose_metadata_matches(searcher, library):
    assert sorted(found(searcher, taken_from="2021", taken_to="2021")) == ["astronaut.jpg", "coffee.jpg"]
    assert sorted(found(searcher, taken_from="2021-12-31")) == ["chelsea.jpg", "coffee.jpg"]
    assert sorted(found(searcher, taken_to="2021-06-05")) == ["astronaut.jpg", "rocket.jpg"]
    assert sorted(found(searcher, taken_to="2021-06-04")) == ["rocket.jpg"]
    assert sorted(found(searcher, camera="nikon")) == ["astronaut.jpg", "chelsea.jpg"]
    assert sorted(found(searcher, camera="Nikon  z 6")) == ["astronaut.jpg"]
    assert sorted(found(searcher, camera="canon r5")) == ["coffee.jpg", "rocket.jpg"]
    assert sorted(found(searcher, lens="70-200")) == ["chelsea.jpg"]
    assert sorted(found(searcher, focal="24-70")) == ["astronaut.jpg", "chelsea.jpg", "rocket.jpg"]
    assert sorted(found(searcher, focal="200-")) == ["coffee.jpg"]
    assert sorted(found(searcher, focal="-24")) == ["rocket.jpg"]
    assert sorted(found(searcher, focal="35")) == ["astronaut.jpg"]
    assert sorted(found(searcher, min_rating=4)) == ["astronaut.jpg", "chelsea.jpg"]  # chelsea: sidecar
    assert sorted(found(searcher, label="RED")) == ["astronaut.jpg", "chelsea.jpg"]
    assert sorted(found(searcher, folder=str(library["photos"] / "trip"))) == ["rocket.jpg"]
    assert sorted(found(searcher, types="png")) == ["moon-copy.png"]
    assert len(found(searcher, types="jpeg")) == 17
    assert found(searcher, has_gps=True) == ["astronaut.jpg"]
    assert found(searcher, types="raw") == []


def test_filters_combine_and_k_counts_only_photos_that_pass(searcher):
    assert found(searcher, camera="nikon", min_rating=5) == ["chelsea.jpg"]
    assert found(searcher, camera="canon", taken_from="2021") == ["coffee.jpg"]
    assert found(searcher, camera="canon", label="red") == []
    # A query about cats, narrowed to Canon photos: k=1 is the best Canon photo, not nothing.
    unfiltered = found(searcher, "a cat", k=1)
    assert unfiltered == ["chelsea.jpg"]
    canon = found(searcher, "a cat", k=1, camera="canon")
    assert len(canon) == 1 and canon[0] in ("coffee.jpg", "rocket.jpg")
    # Paging through filtered results gives each passing photo once.
    f = parse_filter(camera="canon")
    pages = [names(searcher.search("a cup of coffee", 1, offset, searcher.catalog.filtered_image_ids(f))) for offset in range(3)]
    assert sorted(pages[0] + pages[1]) == ["coffee.jpg", "rocket.jpg"] and pages[2] == []
    assert pages[0] == ["coffee.jpg"]


def test_sort_by_date_orders_the_same_k_results_by_capture_time(searcher):
    by_relevance = found(searcher, "a cat", k=17)
    by_date = found(searcher, "a cat", k=17, sort="date")
    assert sorted(by_relevance) == sorted(by_date)
    # The answers by date, then the weaker matches by date: sorting never mixes them.
    page = rank_page(searcher, "a cat", None, 17, sort="date")
    answers = [r for r in page.results if r.answer]
    assert len(answers) == page.answers and page.results[: len(answers)] == answers
    for part in (answers, page.results[len(answers) :]):
        dated = [r.taken_at for r in part if r.taken_at]
        assert dated == sorted(dated) and [r.taken_at for r in part][: len(dated)] == dated  # undated last
    every_tagged = [n for n in by_date if n in TAGGED]
    assert sorted(every_tagged) == sorted(TAGGED)


def test_filters_without_a_query_list_passing_photos_oldest_first(searcher):
    assert found(searcher, None, camera="canon nikon") == []
    assert found(searcher, None, taken_from="2000") == ["rocket.jpg", "astronaut.jpg", "coffee.jpg", "chelsea.jpg"]
    assert found(searcher, None, k=2, taken_from="2000") == ["rocket.jpg", "astronaut.jpg"]
    results = search_filtered(searcher, None, parse_filter(camera="canon"), 5)
    assert [r.taken_at for r in results] == ["2020-02-29T12:00:00", "2021-12-31T23:59:59"]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"taken_from": "June"}, "--from 'June' is not a date"),
        ({"taken_to": "2021-13"}, "--to '2021-13' is not a date"),
        ({"taken_from": "2022", "taken_to": "2021"}, "is after --to"),
        ({"focal": "long"}, "--focal 'long' is not a range"),
        ({"focal": "200-24"}, "shorter focal length comes first"),
        ({"types": "mp4"}, "--type 'mp4' is not a type lucida indexes"),
        ({"min_rating": 9}, "--min-rating must be between -1 and 5"),
    ],
)
def test_bad_filter_values_are_one_line_errors(options, message):
    with pytest.raises(LucidaError, match=message) as error:
        parse_filter(**options)
    assert "\n" not in str(error.value)


def test_parse_filter_bounds():
    f = parse_filter(taken_from="2021-02", taken_to="2021-02", focal="24-70mm", types="raw,JPEG", camera=" a  b ")
    assert (f.taken_from, f.taken_before) == ("2021-02-01", "2021-03-01")
    assert (f.focal_min, f.focal_max) == (24.0, 70.0)
    assert {".nef", ".dng", ".jpg", ".jpeg"} <= f.extensions and ".png" not in f.extensions
    assert f.camera == "a b" and f.active
    assert not PhotoFilter().active and not parse_filter().active
    assert parse_filter(taken_to="2020-12").taken_before == "2021-01-01"


def test_cli_filters_and_json(library):
    done = run(
        "search", "a photo", "--camera", "nikon", "--min-rating", "4", "--sort", "date", "--all", "--json", db=library["db"]
    )
    payload = json.loads(done.stdout)
    assert [Path(r["path"]).name for r in payload["results"]] == ["astronaut.jpg", "chelsea.jpg"]
    assert payload["results"][0]["taken_at"] == "2021-06-05T14:03:22+02:00"
    assert {"path", "score", "caption", "taken_at"} <= set(payload["results"][0])

    listing = run("search", "--from", "2021", "--to", "2021", db=library["db"]).stdout.splitlines()
    assert "2021-06-05T14:03:22" in listing[0] and listing[0].endswith("astronaut.jpg")
    assert listing[2].endswith("coffee.jpg") and len(listing) == 4

    bad = run("search", "cat", "--focal", "wide", db=library["db"], check=False)
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1].startswith("Error: --focal 'wide'")
    nothing = run("search", db=library["db"], check=False)
    assert nothing.returncode == 2 and "give a QUERY" in nothing.stderr


def test_api_filters_as_query_parameters(library, describer, embedder, tmp_path):
    app = create_app(library["db"], describer, embedder, cache_dir=tmp_path / "cache")
    with serving(app) as url:
        page = httpx.get(f"{url}/api/search", params={"q": "a cat", "camera": "canon", "k": 1, "all": True}).json()
        assert page["total"] + page["weaker"] == 2 and len(page["results"]) == 1
        assert Path(page["results"][0]["path"]).name in ("coffee.jpg", "rocket.jpg")
        page = httpx.get(
            f"{url}/api/search",
            params={"q": "a photo", "from": "2021", "to": "2022-01", "sort": "date", "min_rating": 2, "all": True},
        ).json()
        assert [Path(r["path"]).name for r in page["results"]] == ["astronaut.jpg", "coffee.jpg", "chelsea.jpg"]
        assert page["results"][0]["taken_at"] == "2021-06-05T14:03:22+02:00"
        page = httpx.get(f"{url}/api/search", params={"q": "x", "type": "png", "has_gps": "true"}).json()
        assert page == {**page, "total": 0, "results": []}
        everything = httpx.get(f"{url}/api/search", params={"q": "a photo", "k": 100, "all": True}).json()
        assert everything["total"] + everything["weaker"] == 18 and len(everything["results"]) == 18
        bad = httpx.get(f"{url}/api/search", params={"q": "x", "focal": "wide"})
        assert bad.status_code == 400 and bad.json()["error"].startswith("focal='wide'")
