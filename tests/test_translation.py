"""Queries in other languages searched in English words (lucida.translation), from the FreeDict
dictionaries Debian ships (`make system-deps` installs them). Searches of the sample photos in
other languages: tests/test_search.py."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from lucida import translation
from lucida.translation import translate_query

QUERIES = Path(__file__).resolve().parent.parent / "data" / "eval" / "lucida-offline" / "queries.jsonl"

pytestmark = pytest.mark.skipif(
    not translation.dictionaries_installed(), reason="no FreeDict dictionaries: run make system-deps"
)


@pytest.mark.parametrize(
    ("query", "language", "english"),
    [
        ("un chat", "fr", "cat"),
        ("une grenouille", "fr", "frog"),
        ("eine Katze", "de", "cat"),
        ("ein Hund", "de", "dog"),  # its first entry is a mine car: the describer's word wins
        ("Vögel", "de", "birds"),  # not "Vogel" folded into Dutch
        ("rote Blume", "de", "red flower"),  # lucida.languages' colour, not "die Rote"
        ("una jirafa", "es", "giraffe"),
        ("pájaros", "es", "bird"),  # a plural the dictionary has only as its singular
        ("fiori", "it", "flower"),  # the describer's word of the entry (bloom, flower)
        ("une moto rouge", "fr", "motorcycle red"),
        ("猫", "ja", "cat"),
        ("ラクダ", "ja", "camel"),  # katakana found under its hiragana headword
        ("象", "ja", "elephant"),  # a phenomenon first in JMdict
        ("野原の馬", "ja", "field horse"),  # the particle dropped
    ],
)
def test_a_query_in_another_language_is_searched_in_english_words(query, language, english):
    assert translate_query(query) == translation.Translation(language, english)


@pytest.mark.parametrize(
    "query",
    [
        "a cat",
        "pizza",  # Italian too: a tie stays English
        "chat room",
        "kids on a beach at sunset",
        "the red vintage car",
        "Picos de Europa",  # a name: every word capitalised
        "Café de Flore",
    ],
)
def test_english_queries_and_names_are_searched_as_typed(query):
    assert translate_query(query) == translation.Translation("en", query)


def test_no_english_query_of_the_evaluation_set_is_translated():
    queries = [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    english = [q["text"] for q in queries if q["lang"] == "en"]
    changed = [q for q in english if translate_query(q).language != "en"]
    # Three English names are in a dictionary's words; the catalog holds them (see below).
    assert set(changed) <= {"Bella", "Eileen Collins", "Café de Flore"}, changed
    others = [q for q in queries if q["lang"] != "en" and q.get("about") not in ("date", "place")]
    assert sum(translate_query(q["text"]).language == q["lang"] for q in others) >= 0.9 * len(others)


def test_an_excluded_word_is_read_in_its_query_s_language():
    assert translate_query("chat").text == "chat"  # English too
    assert translate_query("chat", language="fr").text == "cat"


def test_words_the_catalog_has_are_never_translated():
    # A French photographer's own keyword "chat": BM25 finds it as typed.
    assert translate_query("un chat", holds=lambda word: word == "chat").text == "un chat"
    assert translate_query("un chat", holds=lambda word: False).text == "cat"


def test_without_dictionaries_a_query_is_searched_as_typed(tmp_path, monkeypatch):
    monkeypatch.setenv("LUCIDA_DICTIONARIES", str(tmp_path))
    translation._dictionary.cache_clear()
    try:
        assert translate_query("un chat") == translation.Translation("en", "un chat")
    finally:
        monkeypatch.delenv("LUCIDA_DICTIONARIES")
        translation._dictionary.cache_clear()


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache folder of the test's own, the compiled dictionaries forgotten before and after."""
    monkeypatch.setenv("LUCIDA_CACHE", str(tmp_path))
    translation._dictionary.cache_clear()
    yield tmp_path
    translation._dictionary.cache_clear()


def test_the_compiled_dictionaries_are_made_once_and_atomically(own_cache):
    assert translate_query("eine Katze").text == "cat"
    (compiled,) = (own_cache / "dictionaries").iterdir()
    assert compiled.suffix == ".sqlite"
    stamp = compiled.stat().st_mtime_ns
    translation._dictionary.cache_clear()
    assert translate_query("un chien").text == "dog"
    assert compiled.stat().st_mtime_ns == stamp  # read, not made again


def test_a_damaged_compiled_file_is_made_again(own_cache):
    assert translate_query("une girafe").text == "giraffe"
    (compiled,) = (own_cache / "dictionaries").iterdir()
    compiled.write_bytes(b"not a database" * 100)
    translation._dictionary.cache_clear()
    assert translate_query("une girafe").text == "giraffe"
    assert [p.name for p in (own_cache / "dictionaries").iterdir()] == [compiled.name]


def test_a_cache_that_cannot_be_written_searches_as_typed(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LUCIDA_CACHE", str(blocker / "cache"))  # no folder can be made under a file, root or not
    translation._dictionary.cache_clear()
    try:
        assert translate_query("une girafe") == translation.Translation("en", "une girafe")
        assert any("searched as typed" in record.getMessage() for record in caplog.records)
    finally:
        translation._dictionary.cache_clear()


def test_while_another_thread_compiles_the_dictionaries_queries_are_searched_as_typed(own_cache, monkeypatch):
    """lucida serve compiles them in a thread as it starts; its first searches must not wait the
    15-30 s that takes."""
    started, release = threading.Event(), threading.Event()
    real = translation._compile

    def slow(sources, path):
        started.set()
        release.wait(120)
        real(sources, path)

    monkeypatch.setattr(translation, "_compile", slow)
    compiling = threading.Thread(target=translation.prepare)
    compiling.start()
    answers = []
    try:
        assert started.wait(60)
        asking = threading.Thread(target=lambda: answers.append((translate_query("une girafe"), translation.query_language("une girafe"))))
        asking.start()
        asking.join(30)  # a query that waited for the compile would still be waiting
        assert not asking.is_alive()
    finally:
        release.set()
        compiling.join()
    assert answers == [(translation.Translation("en", "une girafe"), "en")]
    assert translate_query("une girafe").text == "giraffe"  # compiled: translated from now on
