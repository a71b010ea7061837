"""The committed lucida-offline evaluation set: its queries and manifest agree, and the build
script assembles the part whose packages CI installs (the samples extra) with real ExifTool."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from lucida.evaluate.datasets import load_queries

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import build_offline_set  # noqa: E402
import offline_quality  # noqa: E402

SET = ROOT / "data" / "eval" / "lucida-offline"
QUERY_TYPES = {"object", "category", "scene", "colour", "text", "date", "place", "camera", "keyword", "non-english", "none"}
# Packages of the `samples` extra, which CI installs; the Debian wallpaper packages it does not.
PIP_PACKAGES = {"scikit-image", "scikit-learn", "matplotlib"}


@pytest.fixture(scope="module")
def manifest() -> list[dict]:
    return [json.loads(line) for line in (SET / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def queries():
    return load_queries(SET / "queries.jsonl")


def test_at_least_150_queries_of_known_types_in_both_halves(queries):
    assert len(queries) >= 150
    assert {q.type for q in queries} == QUERY_TYPES
    for kind in QUERY_TYPES:
        splits = Counter(q.split for q in queries if q.type == kind)
        assert splits["dev"] >= 1 and splits["test"] >= 1, (kind, splits)
    halves = Counter(q.split for q in queries)
    assert set(halves) == {"dev", "test"}
    assert abs(halves["dev"] - halves["test"]) <= len(queries) // 10


def test_no_answer_queries_in_english_and_other_languages_in_both_halves(queries):
    unanswerable = [q for q in queries if not q.answerable]
    assert all(q.type == "none" or q.english for q in unanswerable)
    for split in ("dev", "test"):
        mine = [q for q in unanswerable if q.split == split]
        assert len(mine) >= 30 and {q.lang for q in mine} > {"en"}, split
    # a translation of a no-answer query is one too, and an answerable query's translation answerable
    by_text = {q.text: q for q in queries if q.lang == "en"}
    for q in queries:
        if q.english:
            assert q.answerable == by_text[q.english].answerable and q.split == by_text[q.english].split, q.id


def test_every_relevant_photo_is_in_the_manifest(queries, manifest):
    names = {entry["photo"] for entry in manifest}
    for query in queries:
        assert query.relevant <= names, (query.id, sorted(query.relevant - names))


def test_photos_have_neutral_names_a_source_and_a_licence(manifest):
    names = [entry["photo"] for entry in manifest]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"p\d{3}\.jpg", name) for name in names)
    for entry in manifest:
        assert entry["source"]["package"] and entry["source"]["path"], entry["photo"]
        assert entry["licence"].strip(), entry["photo"]
        assert entry["shows"].strip(), entry["photo"]


def test_translations_name_an_english_query_with_the_same_answers_and_half(queries):
    english = {q.text: q for q in queries if q.lang == "en"}
    translated = [q for q in queries if q.type == "non-english"]
    assert len(translated) >= 20
    assert len({q.lang for q in translated}) >= 3  # French, German, Spanish at least
    for query in translated:
        assert query.lang != "en" and query.english in english, query.id
        twin = english[query.english]
        assert (query.relevant, query.split) == (twin.relevant, twin.split), query.id


def test_metadata_queries_are_answered_by_metadata_in_the_manifest(queries, manifest):
    """Date, place and camera queries are judged from what the build writes, so every photo they
    name must get that metadata."""
    metadata = {entry["photo"]: entry.get("metadata", {}) for entry in manifest}
    needs = {"date": "taken", "place": "gps", "camera": "camera"}
    for query in queries:
        if query.type in needs:
            assert all(needs[query.type] in metadata[name] for name in query.relevant), query.id


def test_build_writes_the_installed_part_with_metadata(tmp_path, manifest):
    if shutil.which("exiftool") is None:
        pytest.fail("exiftool is missing: apt-get install libimage-exiftool-perl (make system-deps)")
    paths = build_offline_set.build(tmp_path, available_only=True)
    expected = {e["photo"] for e in manifest if e["source"]["package"] in PIP_PACKAGES}
    built = {path.name for path in paths}
    assert expected <= built
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            assert max(image.size) <= build_offline_set.MAX_SIDE

    # the rocket launch: date, GPS, camera, title and keywords all written into the copy
    rocket = next(e for e in manifest if "DSCOVR" in e.get("metadata", {}).get("keywords", []))
    assert rocket["photo"] in built
    read = subprocess.run(
        ["exiftool", "-j", "-n", "-DateTimeOriginal", "-GPSLatitude", "-GPSLongitude", "-Model", "-Title",
         "-Subject", "-Keywords", str(tmp_path / rocket["photo"])],
        capture_output=True, text=True, check=True,
    )
    tags = json.loads(read.stdout)[0]
    written = rocket["metadata"]
    assert tags["DateTimeOriginal"] == written["taken"].replace("-", ":").replace("T", " ")
    assert tags["GPSLatitude"] == pytest.approx(written["gps"][0], abs=1e-4)
    assert tags["GPSLongitude"] == pytest.approx(written["gps"][1], abs=1e-4)
    assert tags["Model"] == written["camera"]["model"]
    assert tags["Title"] == written["title"]
    assert tags["Subject"] == tags["Keywords"] == written["keywords"]


def test_build_names_the_missing_packages(tmp_path):
    """Without --available-only a missing package stops the build, naming the packages to install."""
    manifest = tmp_path / "manifest.jsonl"
    entries = [
        {"photo": "p001.jpg", "source": {"package": "no-such-wallpapers", "path": str(tmp_path / "absent.jpg")}},
        {"photo": "p002.jpg", "source": {"package": "scikit-image", "module": "skimage", "path": "data/coffee.png"}},
    ]
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"1 of 2 photos need packages that are not installed: no-such-wallpapers"):
        build_offline_set.build(tmp_path / "out", manifest=manifest)
    assert not (tmp_path / "out").exists()
    built = build_offline_set.build(tmp_path / "out", available_only=True, manifest=manifest)
    assert [p.name for p in built] == ["p002.jpg"]


def test_quality_bench_scores_each_type_half_and_subgroup(queries):
    """bench/offline_quality.py's scoring, on a made-up ranking: every query's first relevant
    photo at rank 1 for objects, nothing found for the rest."""
    rankings = {q.id: sorted(q.relevant)[:1] if q.type == "object" else [] for q in queries}
    # the answers: the objects' one photo; nothing for the rest
    run = offline_quality.Run("made up", rankings, rankings, 116, [], [], [])
    scores = offline_quality.score(run, queries)
    for split in ("dev", "test"):
        assert scores[split]["object"]["R@1"] == scores[split]["object"]["MRR@10"] == 1.0
        assert scores[split]["object: context"]["n"] + scores[split]["object: subject"]["n"] == scores[split]["object"]["n"]
        assert scores[split]["scene"]["R@10"] == 0.0
        english = {q.text for q in queries if q.split == split and q.lang == "en"}
        twins = {q.english for q in queries if q.split == split and q.english and q.answerable}
        assert scores[split]["en twins"]["n"] == len(twins) and twins <= english
        share = scores[split]["object"]["n"] / scores[split]["all"]["n"]
        assert scores[split]["all"]["R@1"] == pytest.approx(share)
        assert scores[split]["all"]["n"] == sum(q.split == split and q.answerable for q in queries)
        cutoff = scores[split]["cutoff"]
        assert cutoff["no_answer_n"] == sum(q.split == split and not q.answerable for q in queries)
        assert cutoff["no_answer_empty"] == 1.0 and cutoff["top10_kept"] == 1.0
        assert cutoff["top10_n"] == scores[split]["object"]["n"]
    chance = offline_quality.chance(queries, 116)
    one = next(q for q in queries if len(q.relevant) == 1 and q.split == "dev")
    assert chance["dev"]["all"]["R@10"] > 10 / 116  # queries with many relevant photos lift it
    assert offline_quality.chance([one], 116)["dev"]["all"] == pytest.approx({"R@1": 1 / 116, "R@10": 10 / 116})
