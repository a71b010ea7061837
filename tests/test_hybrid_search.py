"""Offline search with every signal, on real photos and the real offline models: categories,
colours, exact words, text in the photo, queries in other languages, and why each result matched."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image, ImageDraw, ImageFont

from lucida.catalog import Catalog, open_catalog
from lucida.indexer import index_paths
from lucida.models import load_describer, load_embedder
from lucida.models.registry import DEFAULT_DESCRIBER, IMAGENET_DESCRIBER, MULTILINGUAL_EMBEDDER
from lucida.search import Searcher

MONOCHROME = {"camera", "coins", "moon", "brick", "grass", "gravel", "clock"}


@pytest.fixture(scope="module")
def catalog(module_catalog_location, sample_photos, describer, embedder):
    with open_catalog(module_catalog_location) as catalog:
        index_paths(catalog, [str(sample_photos)], describer, embedder)
        yield catalog


def _names(results) -> list[str]:
    return [r.path.rsplit("/", 1)[1].removesuffix(".jpg") for r in results]


def test_default_describer_writes_categories_and_pixel_facts(catalog, sample_photos, embedder):
    assert DEFAULT_DESCRIBER == f"{IMAGENET_DESCRIBER}+hypernyms+pixels"
    details = catalog.image_record(Searcher(catalog, embedder).search("a cat", k=1)[0].image_id).preferred.details
    assert "feline" in details["fields"]["categories"] and "mammal" in details["fields"]["categories"]
    assert details["fields"]["shape"] == "landscape format"
    assert len(details["classes"]) == 25  # the distribution ConSE combines


@pytest.mark.parametrize(
    "query, expected",
    [("an animal", "chelsea"), ("a vehicle", "motorcycle"), ("a beverage", "coffee"), ("clothing", "grace_hopper")],
)
def test_category_words_find_photos_whose_classes_are_more_specific(catalog, embedder, query, expected):
    assert _names(Searcher(catalog, embedder).search(query, k=2))[0] == expected


def test_black_and_white_query_finds_the_monochrome_photos(catalog, embedder):
    found = _names(Searcher(catalog, embedder).search("black and white", k=len(MONOCHROME)))
    assert set(found) == MONOCHROME
    # Vectors alone put black coffee among them: the exact words are what rank them.
    alone = _names(Searcher(catalog, embedder, ranking="vector").search("black and white", k=len(MONOCHROME)))
    assert set(alone) != MONOCHROME


def test_colour_and_light_queries(catalog, embedder):
    searcher = Searcher(catalog, embedder)
    assert "hubble" in _names(searcher.search("a dark photo at night", k=2))
    red = searcher.search("something red", k=3)
    assert all(any("red" in words for words in r.why["words"].values()) for r in red)
    assert sum("red" in r.why["words"].get("colours", []) for r in red) >= 2


def test_why_names_fields_terms_ranks_and_classes(catalog, embedder):
    (best,) = Searcher(catalog, embedder).search("a motorcycle, a kind of vehicle", k=1)
    assert _names([best]) == ["motorcycle"]
    assert "vehicle" in best.why["words"]["categories"] and "motorcycle" in best.why["words"]["categories"]
    assert best.why["word_rank"] == 1 and best.why["vector_rank"] <= 3
    assert best.why["classes"][0]["label"] == "moped" and best.why["classes"][0]["p"] > 0.1


@pytest.fixture(scope="module")
def sign_folder(tmp_path_factory, sample_photos):
    """The sample photos plus one real photo with a sign rendered on it."""
    folder = tmp_path_factory.mktemp("signs")
    for name in ("coffee", "chelsea", "china", "grass"):
        shutil.copy(sample_photos / f"{name}.jpg", folder / f"{name}.jpg")
    photo = Image.open(sample_photos / "coffee.jpg").convert("RGB")
    draw = ImageDraw.Draw(photo)
    draw.rectangle((40, 20, 420, 80), fill="white")
    draw.text((50, 25), "OPEN DAILY", fill="black", font=ImageFont.load_default(size=40))
    photo.save(folder / "cafe.jpg", quality=92)
    return folder


def test_text_in_the_photo_is_read_and_its_exact_words_win(tmp_path, sign_folder, embedder):
    describer = load_describer(DEFAULT_DESCRIBER + "+ocr")
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(sign_folder)], describer, embedder)
        results = Searcher(catalog, embedder).search("open daily", k=2)
        assert _names(results)[0] == "cafe"
        assert results[0].why["words"] == {"text": ["open", "daily"]}
        assert "text in the photo: OPEN DAILY" in results[0].caption
        # Photos without text get no text field: the detector or Tesseract's confidence keeps noise out.
        others = [catalog.image_record(r.image_id).preferred.details for r in Searcher(catalog, embedder).search("coffee", k=5)]
        assert sum("text" in d["fields"] for d in others) == 1


@pytest.fixture(scope="module")
def multilingual_catalog(tmp_path_factory, sample_photos, describer):
    embedder = load_embedder(MULTILINGUAL_EMBEDDER)
    with Catalog.open(tmp_path_factory.mktemp("multilingual") / "catalog.db") as catalog:
        index_paths(catalog, [str(sample_photos)], describer, embedder)
        yield catalog, embedder


@pytest.mark.parametrize(
    "query, expected",
    [("un chat", "chelsea"), ("une tasse de café", "coffee"), ("ein Motorrad", "motorcycle"), ("a cat", "chelsea")],
)
def test_queries_in_other_languages_with_the_multilingual_embedder(multilingual_catalog, query, expected):
    catalog, embedder = multilingual_catalog
    assert _names(Searcher(catalog, embedder).search(query, k=1)) == [expected]
