"""Excluded words: `-word`, "without X", "no X" remove the photos that have X, in their words
or as an answer to X on its own (lucida.query, lucida.search)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from lucida.cli import cli
from lucida.errors import LucidaError
from lucida.query import ParsedQuery, parse_query
from lucida.samples import write_sample_photos
from openai_loopback import OpenAILoopback, fingerprint, nearest

NAMES = ["chelsea", "coffee", "rocket", "moon"]
# Two dog photos, one on grass: what a captioner might have said (served on 127.0.0.1).
CAPTIONS = {
    "chelsea": "a brown dog lying on green grass in a sunny park",
    "coffee": "a small dog asleep on a red sofa in a living room",
    "rocket": "a space shuttle on the launch pad under a clear sky",
    "moon": "craters on the grey surface of the moon",
}


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("a dog -grass", ParsedQuery("a dog", ("grass",))),
        ("a beach without people", ParsedQuery("a beach", ("people",))),
        ("beach -people -cars", ParsedQuery("beach", ("people", "cars"))),
        ("a dog, no grass, with a ball", ParsedQuery("a dog, with a ball", ("grass",))),
        ('cars -"red car"', ParsedQuery("cars", ("red car",))),
        ("a dog without a leash and a ball", ParsedQuery("a dog and a ball", ("leash",))),
        ("un chien sans herbe", ParsedQuery("un chien", ("herbe",))),
        # not exclusions: a leading "no", a negative number, a range
        ("no people", ParsedQuery("no people")),
        ("-5 degrees at dawn", ParsedQuery("-5 degrees at dawn")),
        ("photos from 2019-2020", ParsedQuery("photos from 2019-2020")),
    ],
)
def test_parse_query(typed, parsed):
    assert parse_query(typed) == parsed


def test_only_exclusions_is_a_clear_error():
    with pytest.raises(LucidaError, match="not only what they must not"):
        parse_query("-people")


@pytest.fixture(scope="module")
def dogs(tmp_path_factory, sample_photos):
    """Four sample photos indexed with the offline models, then captioned by a captioner on
    127.0.0.1 that sees two dogs, one of them on grass."""
    root = tmp_path_factory.mktemp("dogs")
    write_sample_photos(root / "photos", NAMES)
    db = root / "catalog.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "index", str(root / "photos"), "-q"])
    assert result.exit_code == 0, result.output
    references = {n: fingerprint(Image.open(root / "photos" / f"{n}.jpg")) for n in NAMES}
    with OpenAILoopback(lambda image: CAPTIONS[nearest(image, references)]) as server:
        result = CliRunner().invoke(
            cli, ["--db", str(db), "caption", "--captioner", "openai:vlm", "--api-base", server.api_base],
            env={"OPENAI_API_KEY": "sk-test"},
        )
        assert result.exit_code == 0, result.output
    return db


def found(db, query: str) -> list[str]:
    """The file names `lucida search --all` lists for the query, best first."""
    result = CliRunner().invoke(cli, ["--db", str(db), "search", query, "--json", "--all", "-k", "10"])
    assert result.exit_code == 0, result.output
    return [r["path"].rsplit("/", 1)[-1] for r in json.loads(result.output)["results"]]


def test_a_dog_minus_grass_drops_the_dog_on_grass_and_keeps_the_other(dogs):
    both = found(dogs, "a dog")
    assert both[:2] in (["chelsea.jpg", "coffee.jpg"], ["coffee.jpg", "chelsea.jpg"])
    for query in ("a dog -grass", "a dog without grass", "a dog, no grass"):
        shown = found(dogs, query)
        assert "chelsea.jpg" not in shown, query
        assert shown[0] == "coffee.jpg", query
    # an excluded word that no photo has changes nothing
    assert found(dogs, "a dog -giraffe") == both
