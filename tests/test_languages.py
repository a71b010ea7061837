"""Queries in other languages name the English metadata words: months, weekdays, seasons, parts
of the day, countries and colours, in French, German, Spanish, Italian, Portuguese, Dutch and
Japanese; English queries get nothing. End to end: ExifTool writes a date and a GPS position
into real photos, and a French, German or Japanese query finds them through BM25."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from lucida.catalog import Catalog
from lucida.indexer import index_paths
from lucida.languages import _table, english_equivalents
from lucida.pixels import COLOUR_NAMES
from lucida.ranking import query_words
from lucida.search import Searcher

from test_metadata import exiftool

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("query", "english"),
    [
        # French: elisions, accents or none, multiword names
        ("photos de décembre", ["december"]),
        ("photos de decembre", ["december"]),
        ("photos d'hiver en Espagne", ["winter", "spain"]),
        ("photos de l’été 2019", ["summer"]),
        ("photos en noir et blanc", ["black", "white", "monochrome"]),
        ("une fleur jaune", ["yellow"]),
        ("l'après-midi au Royaume-Uni", ["afternoon", "united", "kingdom"]),
        ("un samedi soir", ["saturday", "evening"]),
        # German: inflected adjectives, genitives, compounds
        ("Fotos vom Dezember 2019", ["december"]),
        ("Fotos aus Deutschland", ["germany"]),
        ("Spaniens Küste", ["spain"]),
        ("ein rotes Motorrad", ["red"]),
        ("Schwarzweißfotos", ["black", "white", "monochrome"]),
        ("sattgrünes Gras", ["green"]),
        ("dunkelrot", ["red"]),
        ("Herbstlaub", ["autumn"]),
        ("im Winter", []),  # the English word already
        # Spanish, Italian, Portuguese, Dutch
        ("fotos de España en verano", ["spain", "summer"]),
        ("una flor amarilla", ["yellow"]),
        ("foto di dicembre in Italia", ["december", "italy"]),
        ("giapponese", []),  # an adjective: not a name CLDR gives
        ("fotos de março, segunda-feira", ["march", "monday"]),
        ("foto's uit Spanje in de zomer", ["spain", "summer"]),
        ("zwart-wit", ["black", "white", "monochrome"]),
        # Japanese, written without spaces
        ("スペインの写真", ["spain"]),
        ("12月の写真", ["december"]),
        ("１２月", ["december"]),  # full-width digits
        ("2021年11月", ["november"]),  # not 1月 as well
        ("冬の朝", ["winter", "morning"]),
        ("赤い車", ["red"]),
        ("白黒写真", ["black", "white", "monochrome"]),
        ("タイの寺", ["thailand"]),
        ("ネクタイ", []),  # タイ (Thailand) inside a katakana word
        ("赤ちゃん", []),  # a baby, not red
    ],
)
def test_names_in_other_languages_give_the_english_words(query, english):
    assert english_equivalents(query) == english


@pytest.mark.parametrize(
    "query",
    [
        "a red car", "photos from Spain", "December 2019", "Paris", "Mars rover", "a rose garden",
        "viola player", "real estate", "Rio de Janeiro", "Marco", "Cabo Verde", "soiree",
        "Norfolk", "mar", "re",
    ],
)  # fmt: skip
def test_english_words_and_short_words_get_nothing(query):
    assert english_equivalents(query) == []


def test_accents_tell_a_foreign_word_from_an_english_one():
    assert english_equivalents("soirée") == ["evening"] and english_equivalents("soiree") == []
    assert english_equivalents("março") == ["march"] and english_equivalents("marco") == []


def test_no_english_query_of_the_evaluation_set_gets_a_word():
    queries = [json.loads(line) for line in (ROOT / "data/eval/lucida-offline/queries.jsonl").open(encoding="utf-8")]
    english = [q["text"] for q in queries if q["lang"] == "en"]
    assert len(english) > 200
    assert {q: english_equivalents(q) for q in english if english_equivalents(q)} == {}


def test_query_words_add_the_english_words_after_the_query_s_own():
    assert query_words("Fotos vom Dezember") == ["fotos", "vom", "dezember", "december"]
    assert query_words("photos de l'Espagne") == ["de", "espagne", "spain"]
    assert query_words("A photo of the Dog in 2019") == ["dog", "2019"]


def test_the_english_words_are_those_lucida_writes():
    import pycountry

    from lucida.metadata_text import _MONTHS, _NORTHERN_SEASONS, _WEEKDAYS, _country

    written = [*_MONTHS, *_WEEKDAYS, *_NORTHERN_SEASONS, *COLOUR_NAMES, "morning afternoon evening night monochrome"]
    written += [_country(country.alpha_2) for country in pycountry.countries]
    assert _table().english <= set(re.findall(r"\w+", " ".join(written).lower()))
    assert {"december", "winter", "saturday", "night", "pink", "spain", "united"} <= _table().english


def test_shipped_table_is_what_babel_s_cldr_names_give():
    babel = pytest.importorskip("babel")
    shipped = (ROOT / "src/lucida/data/cldr_names.tsv").read_text("utf-8")
    if f"CLDR {babel.core.get_cldr_version()} " not in shipped.splitlines()[0]:
        pytest.skip(f"babel has CLDR {babel.core.get_cldr_version()}: run scripts/make_language_table.py")
    spec = importlib.util.spec_from_file_location("make_language_table", ROOT / "scripts/make_language_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rows = lambda text: [line for line in text.splitlines() if not line.startswith("#")]  # noqa: E731
    assert rows(script.table_text()) == rows(shipped)


needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool (make system-deps)")


@needs_exiftool
def test_queries_in_other_languages_find_the_metadata_words(tmp_path, sample_photos, describer, embedder):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("coffee.jpg", "chelsea.jpg", "rocket.jpg"):
        shutil.copy(sample_photos / name, photos / name)
    madrid = ["-GPSLatitude=40.4168", "-GPSLatitudeRef=N", "-GPSLongitude=3.7038", "-GPSLongitudeRef=W"]
    berlin = ["-GPSLatitude=52.52", "-GPSLatitudeRef=N", "-GPSLongitude=13.405", "-GPSLongitudeRef=E"]
    exiftool("-DateTimeOriginal=2019:12:14 11:00:00", *madrid, photos / "coffee.jpg")
    exiftool("-DateTimeOriginal=2020:07:03 11:00:00", *berlin, photos / "chelsea.jpg")
    exiftool("-DateTimeOriginal=2021:04:20 11:00:00", photos / "rocket.jpg")
    with Catalog.open(tmp_path / "c.db") as catalog:
        index_paths(catalog, [str(photos)], describer, embedder)
        searcher = Searcher(catalog, embedder)

        def first(query):
            best = searcher.search(query, k=1)[0]
            return Path(best.path).name, best.why["words"]

        assert first("photos de décembre") == ("coffee.jpg", {"date": ["december"]})
        assert first("photos d'Espagne") == ("coffee.jpg", {"place": ["spain"]})
        assert first("Fotos aus Deutschland") == ("chelsea.jpg", {"place": ["germany"]})
        assert first("Fotos vom Juli") == ("chelsea.jpg", {"date": ["july"]})
        assert first("スペインの写真") == ("coffee.jpg", {"place": ["spain"]})
        assert first("foto di aprile")[0] == "rocket.jpg"
