"""RAW+JPEG pairs are one photo in search results: real DNGs (pidng), real JPEGs, real models,
through the library, the CLI and the HTTP API."""

from __future__ import annotations

import json
import shutil

import httpx
import numpy as np
import pytest
from PIL import Image

from lucida.catalog import Catalog
from lucida.errors import LucidaError
from lucida.filters import parse_filter, search_filtered
from lucida.indexer import index_paths
from lucida.pairs import export_pattern, group_photos, one_per_photo
from lucida.search import Searcher
from lucida.web import create_app

from test_cli import run
from test_media import dng_with_preview
from test_web_api import serving


def test_group_photos_by_folder_and_stem():
    groups = group_photos(
        [(1, "/a/IMG_1.NEF"), (2, "/a/IMG_1.JPG"), (3, "/b/IMG_1.JPG"), (4, "/a/IMG_2.jpg"), (5, "/a/IMG_2_DxO.jpg")]
    )
    assert groups.group_of == {1: 0, 2: 0}
    assert groups.files[0] == ("/a/IMG_1.NEF", "/a/IMG_1.JPG")  # RAW first
    with_exports = group_photos([(4, "/a/IMG_2.jpg"), (5, "/a/IMG_2_DxO.jpg"), (6, "/a/x.jpg")], export_pattern("{stem}_DxO"))
    assert with_exports.group_of == {4: 0, 5: 0}
    # A copy of the JPEG in a second folder, beside another RAW, makes all of them one photo.
    chained = group_photos([(1, "/a/P.dng"), (2, "/a/P.jpg"), (2, "/b/P.jpg"), (3, "/b/P.dng")])
    assert set(chained.group_of) == {1, 2, 3} and len(chained.files) == 1


def test_export_pattern_needs_its_stem():
    assert export_pattern(None) is None
    assert export_pattern("{stem}-edit").fullmatch("IMG_1-edit").group("stem") == "IMG_1"
    with pytest.raises(LucidaError, match="must contain {stem} once"):
        export_pattern("edited")


def test_one_per_photo_keeps_the_best_of_each_group():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.7], dtype=np.float32)
    groups = np.array([0, 0, -1, 1, 1])
    kept = one_per_photo(scores, groups)
    assert kept.tolist() == [-np.inf, np.float32(0.9), np.float32(0.5), np.float32(0.7), -np.inf]  # ties: first row


@pytest.fixture(scope="module")
def library(tmp_path_factory, sample_photos, describer, embedder) -> dict:
    root = tmp_path_factory.mktemp("pairs")
    photos = root / "photos"
    shutil.copytree(sample_photos, photos)
    # rocket.jpg becomes IMG_0001.JPG, shot together with a DNG of the same scene.
    shutil.move(photos / "rocket.jpg", photos / "IMG_0001.JPG")
    with Image.open(photos / "IMG_0001.JPG") as rocket:
        upright = rocket.convert("RGB").resize((400, 300))
    (photos / "IMG_0001.dng").write_bytes(dng_with_preview(upright, upright))
    # An edited export of coffee.jpg, as DxO PhotoLab names it.
    with Image.open(photos / "coffee.jpg") as coffee:
        coffee.rotate(2).save(photos / "coffee_DxO.jpg", quality=92)
    db = root / "catalog.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
    return {"db": db, "photos": photos}


def test_a_raw_jpeg_pair_is_one_hit_with_both_files(library, embedder):
    photos = library["photos"]
    with Catalog.open(library["db"], create=False) as catalog:
        assert len(catalog.image_files()) == 19  # 17 samples + the DNG + the export, each its own image
        searcher = Searcher(catalog, embedder)
        results = searcher.search("a rocket launch", k=19)
        pair = [r for r in results if "IMG_0001" in r.path]
        assert len(pair) == 1
        assert pair[0].files == (str(photos / "IMG_0001.dng"), str(photos / "IMG_0001.JPG"))
        assert len(results) == searcher.candidates() == 18  # the pair counts once; exports are separate
        assert len({r.image_id for r in results}) == 18
        # k counts photos: the 2 best are two different photos.
        top = searcher.search("a rocket launch", k=2)
        assert len(top) == 2 and len({tuple(r.files) for r in top}) == 2
        # --type raw lets the pair through as one photo, shown by its RAW.
        raw = search_filtered(searcher, "a rocket", parse_filter(types="raw"), 5)
        assert [r.path for r in raw] == [str(photos / "IMG_0001.dng")] and len(raw[0].files) == 2
        # --type jpeg matches IMG_0001.JPG whatever the case of its extension.
        jpeg = search_filtered(searcher, "a rocket", parse_filter(types="jpeg"), 1)
        assert [r.path for r in jpeg] == [str(photos / "IMG_0001.JPG")]
        # More like the JPEG: its own DNG is not "similar", it is the same photo.
        jpeg_id = next(i for i, p in catalog.image_files() if p.endswith("IMG_0001.JPG"))
        assert all("IMG_0001" not in r.path for r in searcher.similar(jpeg_id, k=18))

        with_exports = Searcher(catalog, embedder, exports="{stem}_DxO")
        coffee = [r for r in with_exports.search("a cup of coffee", k=20) if "coffee" in r.path]
        assert len(coffee) == 1 and set(coffee[0].files) == {str(photos / "coffee.jpg"), str(photos / "coffee_DxO.jpg")}
        assert with_exports.candidates() == 17


def test_cli_and_api_show_pairs_as_one_photo(library, describer, embedder, tmp_path):
    photos = library["photos"]
    payload = json.loads(run("search", "a rocket launch", "-k", "3", "--all", "--json", db=library["db"]).stdout)
    [pair] = [r for r in payload["results"] if "IMG_0001" in r["path"]]
    assert pair["files"] == [str(photos / "IMG_0001.dng"), str(photos / "IMG_0001.JPG")]
    lines = run("search", "a cup of coffee", "-k", "1", "--export-pattern", "{stem}_DxO", db=library["db"]).stdout
    assert "+ " in lines and "coffee_DxO.jpg" in lines and "coffee.jpg" in lines

    app = create_app(library["db"], describer, embedder, cache_dir=tmp_path / "cache")
    with serving(app) as url:
        page = httpx.get(f"{url}/api/search", params={"q": "a rocket launch", "k": 50, "all": True}).json()
        assert page["total"] + page["weaker"] == 18 and len(page["results"]) == 18
        [hit] = [h for h in page["results"] if "IMG_0001" in h["path"]]
        assert hit["files"] == [str(photos / "IMG_0001.dng"), str(photos / "IMG_0001.JPG")]
