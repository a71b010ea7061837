"""lucida.library: every front end shows the same caption and ranking for a photo, and one rule
chooses the models (flag > config > catalog > default, the API base with them)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from lucida.catalog import Catalog, open_catalog
from lucida.cli import cli
from lucida.config import Config
from lucida.library import CAPTION, CAPTIONER, DESCRIBER, EMBEDDER, INDEX, SEARCH, Library, choose_model
from lucida.models.registry import DEFAULT_DESCRIBER, DEFAULT_EMBEDDER
from lucida.samples import write_sample_photos
from lucida.web import create_app
from conftest import copy_catalog
from openai_loopback import OpenAILoopback, fingerprint, nearest
from test_caption import CAPTIONS, NAMES  # four photos, and captions no ImageNet class would give
from test_web_api import serving

QUERY = "a purple giraffe reading a newspaper"


def run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def captioned(tmp_path_factory, module_catalog_location) -> tuple[str, Path]:
    """Four photos indexed by the offline describer, then captioned by a captioner served on
    127.0.0.1 (`lucida caption`): each photo has two descriptions, and its caption must win."""
    root = tmp_path_factory.mktemp("one-caption")
    photos = root / "photos"
    write_sample_photos(photos, NAMES)
    db = module_catalog_location
    run("--db", str(db), "index", str(photos), "-q")
    references = {n: fingerprint(Image.open(photos / f"{n}.jpg")) for n in NAMES}
    with OpenAILoopback(lambda image: CAPTIONS[nearest(image, references)]) as server:
        run("--db", str(db), "caption", "--captioner", "openai:vlm", "--api-base", server.api_base, "-q")
    return db, photos


def test_every_front_end_shows_the_caption_and_ranking_the_library_gives(captioned, tmp_path):
    db, photos = captioned
    cli_results = json.loads(run("--db", str(db), "search", QUERY, "--json", "-k", "4"))["results"]
    assert cli_results[0]["path"] == str(photos / "coffee.jpg")
    assert cli_results[0]["caption"] == CAPTIONS["coffee"]
    # why reads the same description: the caption's words matched.
    assert cli_results[0]["why"]["words"] == {"description": ["purple", "giraffe", "reading", "newspaper"]}

    with Library.open(db) as library:
        describer, embedder = library.serve_models()
    with serving(create_app(db, describer, embedder, cache_dir=tmp_path / "cache")) as url:
        page = httpx.get(f"{url}/api/search", params={"q": QUERY, "k": 4}).json()
        assert [(h["path"], h["caption"]) for h in page["results"]] == [(r["path"], r["caption"]) for r in cli_results]
        assert [h["score"] for h in page["results"]] == [r["score"] for r in cli_results]
        photo = httpx.get(f"{url}/api/images/{page['results'][0]['id']}", params={"q": QUERY}).json()
    assert photo["caption"] == photo["why"]["description"] == CAPTIONS["coffee"]
    used = [d for d in photo["descriptions"] if d["used_for_search"]]
    assert [(d["describer"], d["text"]) for d in used] == [("openai:vlm", CAPTIONS["coffee"])]
    assert {d["describer"] for d in photo["descriptions"]} >= {DEFAULT_DESCRIBER, "openai:vlm"}
    assert photo["why"]["top_classes"]  # the classifier's classes still explain the photo

    run("--db", str(db), "export-xmp", str(photos / "coffee.jpg"))
    try:
        sidecar = (photos / "coffee.xmp").read_text("utf-8")
        assert CAPTIONS["coffee"] in sidecar
        # Keywords still come from the classifier's classes, since a caption lists none.
        assert "<rdf:li>lucida|" in sidecar
    finally:
        run("--db", str(db), "export-xmp", "--undo")
    assert not (photos / "coffee.xmp").exists()


def test_a_photo_whose_caption_has_no_vector_yet_is_searched_by_its_next_description(captioned, tmp_path, request):
    with open_catalog(copy_catalog(captioned[0], tmp_path, request)) as catalog:
        coffee = next(i for i, p in catalog.image_files() if p.endswith("coffee.jpg"))
        record = catalog.image_record(coffee)
        with catalog.transaction():  # as if the embedder failed right after the caption committed
            catalog.delete_description(coffee, "openai:vlm", record.preferred.prompt)
            catalog.put_description(coffee, "openai:vlm", record.preferred.prompt, CAPTIONS["coffee"], kind="captioner")
        assert catalog.image_record(coffee).preferred.text == CAPTIONS["coffee"]
        assert coffee in catalog.search_vectors(DEFAULT_EMBEDDER).image_ids.tolist()
        assert catalog.status().unembedded == 1  # and `lucida index` embeds it


def test_the_model_rule_flag_then_config_then_catalog_then_default(tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text('[index]\nembedder = "from-config"\n[caption]\ncaptioner = "c"\napi_base = "http://caption/v1"\n')
    config, empty = Config.load(config_file), Config.load(tmp_path / "none.toml")
    recorded = {"describer": "recorded-d", "embedder": "recorded-e", "api_base": "http://catalog/v1"}
    assert choose_model(EMBEDDER, INDEX, config, recorded, spec="flag").spec == "flag"
    assert choose_model(EMBEDDER, INDEX, config, recorded).spec == "from-config"
    assert choose_model(EMBEDDER, SEARCH, config, recorded).spec == "recorded-e"  # [search] says nothing
    assert choose_model(DESCRIBER, INDEX, empty, {}).spec == DEFAULT_DESCRIBER
    assert choose_model(EMBEDDER, INDEX, empty, {}).spec == DEFAULT_EMBEDDER
    assert choose_model(EMBEDDER, SEARCH, empty, {}) is None  # nothing indexed: nothing to search
    # The catalog's API base goes with the catalog's models; the config's with its table's roles.
    assert choose_model(EMBEDDER, INDEX, empty, recorded).api_base == "http://catalog/v1"
    assert choose_model(EMBEDDER, INDEX, empty, recorded, api_base="http://flag/v1").api_base == "http://flag/v1"
    assert choose_model(CAPTIONER, CAPTION, config, recorded) == choose_model(CAPTIONER, CAPTION, config, {})
    assert choose_model(CAPTIONER, CAPTION, config, recorded).api_base == "http://caption/v1"
    assert choose_model(EMBEDDER, CAPTION, config, recorded).api_base == "http://catalog/v1"
    assert choose_model(CAPTIONER, CAPTION, empty, recorded) is None


def test_watch_keeps_the_api_base_the_catalog_was_indexed_with(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    photos = tmp_path / "photos"
    write_sample_photos(photos, ["chelsea", "coffee"])
    db = tmp_path / "catalog.db"
    embedder = "openai:text-embedding-3-small@16"
    with OpenAILoopback() as server:
        run("--db", str(db), "index", str(photos), "-q", "--embedder", embedder, "--api-base", server.api_base)
        indexed = len(server.requests)
        write_sample_photos(photos, ["rocket"])  # lands while nothing watches
        stop, passes = threading.Event(), []

        def on_pass(done) -> None:
            passes.append(done)
            stop.set()

        with Library.open(db) as library:  # no flag and no config: the catalog's models and base
            library.watch([str(photos)], on_pass=on_pass, stop=stop)
        assert [(p.reason, p.summary.described) for p in passes] == [("start", 1)]
        assert len(server.requests) > indexed  # the new photo's text was embedded there
    with Catalog.open(db) as catalog:
        assert catalog.status().embedders == {embedder: 3}
