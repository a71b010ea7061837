"""Model choices from the config file, the command line over it, several embedding spaces in one
catalog, and `lucida index` with an API captioner that fails on one photo."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from lucida.catalog import Catalog
from lucida.cli import cli
from lucida.config import Config, config_path
from lucida.errors import LucidaError
from openai_loopback import OpenAILoopback, fingerprint, nearest


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    monkeypatch.setenv("LUCIDA_CONFIG", str(path))
    return path


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def settings(db) -> dict:
    with Catalog.open(db, create=False) as catalog:
        return catalog.settings()


def test_the_config_file_lives_in_the_user_config_folder(monkeypatch):
    from platformdirs import user_config_path

    monkeypatch.delenv("LUCIDA_CONFIG", raising=False)
    assert config_path() == user_config_path("lucida", appauthor=False) / "config.toml"


def test_index_takes_its_embedder_from_the_config_and_the_command_line_wins(config_file, tmp_path, photo_folder, tiny_embedder_folder):
    config_file.write_text(f'[index]\nembedder = "st:{tiny_embedder_folder}"\n')
    db = tmp_path / "catalog.db"
    assert run("--db", str(db), "index", str(photo_folder), "-q").exit_code == 0
    assert settings(db)["embedder"] == f"st:{tiny_embedder_folder}"
    result = run("--db", str(db), "index", str(photo_folder), "-q", "--embedder", "all-minilm-l6-v2")
    assert result.exit_code == 0, result.output
    assert settings(db)["embedder"] == "all-minilm-l6-v2"


def test_caption_takes_captioner_prompt_and_api_base_from_the_config(config_file, tmp_path, photo_folder):
    db = tmp_path / "catalog.db"
    assert run("--db", str(db), "index", str(photo_folder), "-q").exit_code == 0
    with OpenAILoopback(lambda image: "a photo from the config's server") as server:
        config_file.write_text(f'[caption]\ncaptioner = "openai:vlm"\nprompt = "short"\napi_base = "{server.api_base}"\n')
        result = run("--db", str(db), "caption")
    assert result.exit_code == 0, result.output
    assert "captioned with openai:vlm (prompt short)" in result.output
    assert server.requests and all(r.body["model"] == "vlm" for r in server.requests)


def test_caption_without_a_captioner_says_where_to_set_one(config_file, tmp_path, photo_folder):
    db = tmp_path / "catalog.db"
    assert run("--db", str(db), "index", str(photo_folder), "-q").exit_code == 0
    result = run("--db", str(db), "caption")
    assert result.exit_code == 2 and str(config_file) in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[caption]\napi_key = "sk-123"\n', "API keys only from the environment"),
        ('[index]\nembeder = "x"\n', "unknown key embeder in [index]"),
        ('[indexing]\nembedder = "x"\n', "unknown table [indexing]"),
        ('[index]\nembedder = 3\n', "must be a non-empty string"),
        ("[index\n", "is not valid TOML"),
    ],
)
def test_a_bad_config_file_is_one_clear_line(config_file, text, message):
    config_file.write_text(text)
    with pytest.raises(LucidaError, match=message.replace("[", r"\[")):
        Config.load()
    result = run("search", "a cat")
    assert result.exit_code == 1 and message in result.output and len(result.output.strip().splitlines()) == 1


def test_search_picks_an_embedding_space_and_defaults_to_the_index_one(config_file, tmp_path, photo_folder, tiny_embedder_folder):
    db = tmp_path / "catalog.db"
    assert run("--db", str(db), "index", str(photo_folder), "-q").exit_code == 0
    tiny = f"st:{tiny_embedder_folder}"
    assert run("--db", str(db), "index", str(photo_folder), "-q", "--embedder", tiny).exit_code == 0
    with Catalog.open(db, create=False) as catalog:
        assert set(catalog.status().embedders) == {"all-minilm-l6-v2", tiny}  # both spaces kept

    def top(*extra: str) -> str:
        result = run("--db", str(db), "search", "a tabby cat", "--json", "--all", "-k", "20", *extra)
        assert result.exit_code == 0, result.output
        return [r["path"].rsplit("/", 1)[1] for r in json.loads(result.output)["results"]]

    minilm = top("--embedder", "all-minilm-l6-v2")
    assert minilm[0] == "chelsea.jpg"  # the real model finds the cat
    assert top() == top("--embedder", tiny) != minilm  # default: the space the index was built with
    result = run("--db", str(db), "search", "a cat", "--embedder", "all-mpnet-base-v2")
    assert result.exit_code == 1 and "no vectors from all-mpnet-base-v2" in result.output


def test_index_with_an_api_captioner_keeps_going_past_a_failing_photo(tmp_path, photo_folder):
    db = tmp_path / "catalog.db"
    photos = sorted(photo_folder.glob("*.jpg"))
    references = {p.stem: fingerprint(Image.open(p)) for p in photos}
    only_rocket = lambda image: nearest(image, references) == "rocket"  # noqa: E731
    with OpenAILoopback(lambda image: f"a photo {image.width}x{image.height}") as server:
        server.fail(500, times=20, headers={"retry-after-ms": "5"}, only_for=only_rocket)
        result = run("--db", str(db), "index", str(photo_folder), "--captioner", "openai:vlm", "--api-base", server.api_base)
        assert result.exit_code == 0, result.output
        status = json.loads(run("--db", str(db), "status", "--json").output)
        assert status["indexed"] == len(photos) - 1
        [skipped] = status["skipped"]
        assert skipped["path"].endswith("rocket.jpg") and skipped["reason"].startswith("describing failed, tried again next run")
        server._answers.clear()
        again = run("--db", str(db), "index", str(photo_folder), "--captioner", "openai:vlm", "--api-base", server.api_base)
    assert again.exit_code == 0, again.output
    status = json.loads(run("--db", str(db), "status", "--json").output)
    assert status["indexed"] == len(photos) and status["skipped"] == []
    assert settings(db)["api_base"] == server.api_base  # a URL, never a key
    assert not any("key" in key for key in settings(db))


def test_a_prompt_for_a_describer_that_takes_none_is_one_line(tmp_path, photo_folder):
    result = run("--db", str(tmp_path / "catalog.db"), "index", str(photo_folder), "--prompt", "short")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: efficientnet-lite0-imagenet takes no prompt, not --prompt 'short'; leave --prompt out for it"
    )
