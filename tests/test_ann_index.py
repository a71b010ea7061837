"""The nearest-neighbour index beside the catalog (lucida.ann_index) on a real catalog of real
photos: it agrees with exact search, never shows a photo the catalog no longer has, survives
kill -9 in every phase of an update and catches up, and deleting it only costs a rebuild."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from conftest import make_photo_variants
from lucida import ann_index, search
from lucida.ann_index import AnnIndex
from lucida.catalog import Catalog
from lucida.indexer import index_paths
from lucida.library import Library
from lucida.search import CONSE_WEIGHT, Searcher

QUERIES = ["a cup of coffee", "an astronaut", "a cat", "coins", "a rocket launch", "a horse", "a man with a camera"]


@pytest.fixture(scope="module")
def indexed_master(tmp_path_factory, sample_photos, describer, embedder):
    """A catalog of 68 real photos (four crops of each sample photo, so near-duplicates too)."""
    folder = tmp_path_factory.mktemp("ann")
    make_photo_variants(sample_photos, folder / "photos", per_photo=4)
    db = folder / "catalog.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(folder / "photos")], describer, embedder)
    return db


@pytest.fixture(autouse=True)
def shallow_index_search(monkeypatch):
    """Ask the index for 30 neighbours of the 68 photos, so that searches go through it (asked
    for as many as there are photos, a search scores them all)."""
    monkeypatch.setattr(search, "ANN_DEPTH", 30)


@pytest.fixture
def indexed(tmp_path, indexed_master):
    db = tmp_path / "catalog.db"
    shutil.copy(indexed_master, db)
    return db


def _ranking(db, embedder, exact, query, k=10, ranking="hybrid", only=None, weak=False):
    """The answers (with `weak`, the whole ranking) as (image id, score)."""
    with Catalog.open(db, create=False) as catalog:
        searcher = Searcher(catalog, embedder, ranking=ranking, exact=exact)
        return [(r.image_id, round(r.score, 5)) for r in searcher.search(query, k=k, only=only, weak=weak)]


def _folder(db, embedder):
    return ann_index.folder_for(db, embedder.name, CONSE_WEIGHT)


@pytest.mark.parametrize("ranking", ["hybrid", "vector"])
def test_the_index_and_exact_search_agree_on_a_real_catalog(indexed, embedder, ranking):
    answered = 0
    for query in QUERIES:
        answers = _ranking(indexed, embedder, True, query, ranking=ranking)
        assert _ranking(indexed, embedder, False, query, ranking=ranking) == answers, query
        answered += len(answers) > 0
        if ranking == "vector":  # the nearest ten, answers or not
            nearest = _ranking(indexed, embedder, True, query, ranking=ranking, weak=True)
            assert _ranking(indexed, embedder, False, query, ranking=ranking, weak=True) == nearest, query
    assert answered >= 4  # the cup, the astronaut, the cat and the coins are in the photos
    index = AnnIndex.open(_folder(indexed, embedder))
    assert index is not None and index.size == 68


def test_more_like_this_and_search_by_vector_agree_with_exact(indexed, embedder):
    with Catalog.open(indexed, create=False) as catalog:
        exact, near = Searcher(catalog, embedder, exact=True), Searcher(catalog, embedder, exact=False)
        some = exact.search("an astronaut", k=1)[0].image_id
        assert near.size == exact.size == 68  # loads them
        assert near._ann is not None and exact._ann is None
        assert [r.image_id for r in near.similar(some, k=8)] == [r.image_id for r in exact.similar(some, k=8)]
        assert some not in [r.image_id for r in near.similar(some, k=8)]
        vector = embedder.embed_queries(["a rocket"])[0]
        assert [r.image_id for r in near.search_vector(vector, k=5)] == [r.image_id for r in exact.search_vector(vector, k=5)]


def test_a_filtered_search_returns_what_exact_filtered_search_returns(indexed, embedder, monkeypatch):
    with Catalog.open(indexed, create=False) as catalog:
        only = {image_id for image_id, _ in catalog.image_files()[::5]}  # a fifth of the photos
    for ranking in ("hybrid", "vector"):
        expected = _ranking(indexed, embedder, True, "a cat", k=8, only=only, ranking=ranking, weak=True)
        assert {i for i, _ in expected} <= only and len(expected) == 8
        # Narrow: every passing photo scored exactly.
        assert _ranking(indexed, embedder, False, "a cat", k=8, only=only, ranking=ranking, weak=True) == expected
    # Broad (forced here): the index asked for proportionally more neighbours (5 × 68 / 14 = 25 of
    # the 68), then those that pass.
    monkeypatch.setattr(search, "FILTER_EXACT_UP_TO", 0)
    monkeypatch.setattr(search, "ANN_DEPTH", 5)
    nearest = _ranking(indexed, embedder, True, "a cat", k=3, only=only, ranking="vector", weak=True)
    assert _ranking(indexed, embedder, False, "a cat", k=3, only=only, ranking="vector", weak=True) == nearest


def test_a_removed_photo_never_appears_even_before_the_index_catches_up(indexed, embedder, monkeypatch):
    coffee = _ranking(indexed, embedder, False, "a cup of coffee", k=5)[0][0]
    written = AnnIndex.open(_folder(indexed, embedder))
    with Catalog.open(indexed, create=False) as catalog:
        catalog.remove_paths([path for image_id, path in catalog.image_files() if image_id == coffee])
        catalog.prune_orphan_images()
        # A search of a large catalog uses the file as it is, which still holds the photo.
        monkeypatch.setattr(search, "ANN_FROM", 0)
        stale = Searcher(catalog, embedder)
        assert stale.size == 67 and stale._ann is not None and stale._ann.generation == written.generation
        assert coffee in written.nearest(embedder.embed_queries(["a cup of coffee"])[0], 68).tolist()
        assert coffee not in [r.image_id for r in stale.search("a cup of coffee", k=20, weak=True)]
        other = stale.search("a cup of coffee", k=1)[0].image_id
        assert coffee not in [r.image_id for r in stale.similar(other, k=66)]
    # An update removes it from the index.
    assert coffee not in [i for i, _ in _ranking(indexed, embedder, False, "a cup of coffee", k=20)]
    updated = AnnIndex.open(_folder(indexed, embedder))
    assert updated.generation > written.generation and updated.size == 67


def test_an_index_read_into_memory_answers_as_the_mapped_file_and_follows_every_update(indexed, embedder, monkeypatch):
    # `lucida serve` reads the index into memory (Library(serving=True)); `lucida search` maps it.
    monkeypatch.setattr(search, "ANN_FROM", 0)  # searched through the index, as a large catalog is
    with Catalog.open(indexed, create=False) as catalog:
        assert Searcher(catalog, embedder, exact=False).update_nearest_index()
        mapped = Searcher(catalog, embedder)
        resident = Searcher(catalog, embedder, resident_index=True)
        for query in QUERIES:
            assert [r.image_id for r in resident.search(query, k=10, weak=True)] == [
                r.image_id for r in mapped.search(query, k=10, weak=True)
            ], query
        held = resident._ann
        assert held is not None and held.path == mapped._ann.path
        assert held.resident and not mapped._ann.resident
        # A write that leaves the index file as it is: the index in memory is kept, not read again.
        coffee = resident.search("a cup of coffee", k=1)[0].image_id
        catalog.put_description(coffee, "notes", "", "a mug on a saucer")
        resident.search("a mug", k=1)
        assert resident._ann is held
        # A removed photo: the update writes a new file, which the resident searcher reads.
        catalog.remove_paths([path for image_id, path in catalog.image_files() if image_id == coffee])
        catalog.prune_orphan_images()
        assert coffee not in [r.image_id for r in resident.search("a cup of coffee", k=20, weak=True)]
        assert resident.update_nearest_index()
        assert resident._ann is not held and resident._ann.size == 67 and resident._ann.resident
        assert resident._ann.path == AnnIndex.open(_folder(indexed, embedder)).path
        # The index it updated in memory finds what the file written finds.
        vector = embedder.embed_queries(["a cat"])[0]
        assert resident._ann.nearest(vector, 30).tolist() == AnnIndex.open(_folder(indexed, embedder)).nearest(vector, 30).tolist()


def test_photos_scored_in_parts_score_as_scored_at_once(indexed, embedder, monkeypatch):
    with Catalog.open(indexed, create=False) as catalog:
        searcher = Searcher(catalog, embedder, exact=False)
        searcher.size  # noqa: B018 - loads the vectors
        vector = embedder.embed_queries(["a cup of coffee"])[0]
        rows = np.arange(0, 68, 2)
        whole = searcher._similarity(vector, rows)
        monkeypatch.setattr(search, "SIMILARITY_CHUNK", 5)
        assert np.array_equal(searcher._similarity(vector, rows), whole)
        assert np.allclose(whole, searcher._index.vectors.vectors[rows] @ vector, atol=1e-6)
        assert _ranking(indexed, embedder, False, "a cup of coffee", weak=True) == _ranking(indexed, embedder, True, "a cup of coffee", weak=True)


def test_a_word_most_photos_hold_is_weighed_where_the_index_finds_them(indexed, embedder, monkeypatch):
    # Past WORDS_EXACT_UP_TO holders, hybrid ranking weighs those among the index's neighbours (asked
    # for in proportion), as a broad filter is searched, not every one of them.
    monkeypatch.setattr(search, "WORDS_EXACT_UP_TO", 8)
    monkeypatch.setattr(search, "ANN_DEPTH", 5)
    with Catalog.open(indexed, create=False) as catalog:
        near = Searcher(catalog, embedder, exact=False)
        near.size  # noqa: B018 - loads the vectors and the index
        word = max(["brown", "grey", "black", "red", "blue", "animal"], key=lambda w: len(near._holding_rows([w])))
        holding = near._holding_rows([word])
        assert len(holding) >= 20, word
        vector = embedder.embed_queries([word])[0]
        weighed = near._nearest_holding(vector, holding, 10)
        assert 0 < len(weighed) < len(holding) and np.isin(weighed, holding).all()
        # Deeper pages ask for more neighbours, up to every holder.
        assert len(near._nearest_holding(vector, holding, 40)) > len(weighed)
        assert np.array_equal(near._nearest_holding(vector, holding, 68), holding)
        monkeypatch.setattr(search, "WORDS_EXACT_UP_TO", 10**6)
        assert np.array_equal(near._nearest_holding(vector, holding, 10), holding)
    monkeypatch.setattr(search, "WORDS_EXACT_UP_TO", 8)
    bounded = _ranking(indexed, embedder, False, word, k=5)
    assert bounded and bounded == _ranking(indexed, embedder, True, word, k=5)


def test_lists_are_trained_again_when_the_catalog_has_shrunk_past_half(indexed, embedder):
    _ranking(indexed, embedder, False, "a cat")
    trained = AnnIndex.open(_folder(indexed, embedder))
    assert trained.index.nlist == 8  # about sqrt(68)
    with Catalog.open(indexed, create=False) as catalog:
        files = catalog.image_files()
        catalog.remove_paths([path for _, path in files[:30]])
    _ranking(indexed, embedder, False, "a cat")
    kept = AnnIndex.open(_folder(indexed, embedder))
    assert kept.size == 38 and kept.index.nlist == 8  # 38 photos for 64 trained: the same lists
    with Catalog.open(indexed, create=False) as catalog:
        catalog.remove_paths([path for _, path in files[30:40]])
    _ranking(indexed, embedder, False, "a cat")
    retrained = AnnIndex.open(_folder(indexed, embedder))
    assert retrained.size == 28 and retrained.index.nlist == 5  # 28 < 64 / 2: new lists


def test_an_index_of_residual_codes_is_rebuilt_once_with_direct_codes(indexed, embedder):
    """Codes of the vectors themselves, not of their offsets from their list's centre, search
    twice as fast at 1M; an index written before (residual codes) is rebuilt by its next update."""
    import faiss

    _ranking(indexed, embedder, False, "a cat")
    folder = _folder(indexed, embedder)
    built = AnnIndex.open(folder)
    assert not built.index.by_residual
    with Catalog.open(indexed, create=False) as catalog:
        stored = Searcher(catalog, embedder, exact=True)._current()
    old = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(stored.vectors.shape[1]), stored.vectors.shape[1], 8,
                                        faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)  # fmt: skip
    old.train(np.ascontiguousarray(stored.vectors))
    old.add_with_ids(np.ascontiguousarray(stored.vectors), np.ascontiguousarray(stored.image_ids))
    assert old.by_residual
    ann_index._save(old, folder, built.generation)
    assert AnnIndex.open(folder).index.by_residual
    updated = ann_index.update(folder, stored.image_ids, stored.vectors, built.generation + 1, np.zeros(0, dtype=np.int64))
    assert not updated.index.by_residual and updated.size == 68
    assert _ranking(indexed, embedder, False, "a cat") == _ranking(indexed, embedder, True, "a cat")


def test_a_stale_index_is_trusted_only_for_unchanged_photos(indexed, embedder, photo_folder, describer, monkeypatch):
    """A photo added after the file was written is found (scored exactly beside it) before any update."""
    _ranking(indexed, embedder, False, "a cat")  # writes the index
    written = AnnIndex.open(_folder(indexed, embedder))
    monkeypatch.setattr(search, "ANN_FROM", 0)  # as a search of a large catalog would: use the file as it is
    with Catalog.open(indexed, create=False) as catalog:
        index_paths(catalog, [str(photo_folder / "chelsea.jpg")], describer, embedder)
        added = max(image_id for image_id, _ in catalog.image_files())
        stale, exact = Searcher(catalog, embedder, ranking="vector"), Searcher(catalog, embedder, exact=True, ranking="vector")
        assert stale.size == 69
        assert stale._ann is not None and stale._ann.generation == written.generation
        assert added not in written.nearest(embedder.embed_queries(["a cat"])[0], 68).tolist()
        assert stale._index.vectors.image_ids[stale._changed_rows].tolist() == [added]
        found = [r.image_id for r in stale.search("a cat", k=10)]
        assert added in found and found == [r.image_id for r in exact.search("a cat", k=10)]


def test_deleting_the_index_only_costs_a_rebuild(indexed, embedder):
    first = _ranking(indexed, embedder, False, "an astronaut")
    shutil.rmtree(_folder(indexed, embedder))
    assert _ranking(indexed, embedder, False, "an astronaut") == first
    assert AnnIndex.open(_folder(indexed, embedder)) is not None


def test_a_damaged_index_file_is_rebuilt(indexed, embedder):
    first = _ranking(indexed, embedder, False, "a horse")
    index = AnnIndex.open(_folder(indexed, embedder))
    path, generation = index.path, index.generation
    del index
    path.write_bytes(b"not an index")
    assert AnnIndex.open(_folder(indexed, embedder)) is None
    with Catalog.open(indexed, create=False) as catalog:
        assert len(catalog.changed_since(generation)) == 0  # the rebuild comes from the bad file alone
    assert _ranking(indexed, embedder, False, "a horse") == first


# Runs an update of the index in a child process and kills it with SIGKILL at one point:
# argv: catalog, phase ("append", "retrain", "rebuild"), point ("add", "fsync", "replace").
_KILLED_UPDATE = """
import os, signal, sys, shutil
import faiss
from lucida import ann_index
from lucida.catalog import Catalog
from lucida.models import DEFAULT_EMBEDDER, load_embedder
from lucida.search import CONSE_WEIGHT, Searcher

db, phase, point = sys.argv[1:4]
die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
if phase == "retrain":
    ann_index.RETRAIN_AT = 1.0
if phase == "rebuild":
    shutil.rmtree(ann_index.folder_for(db, DEFAULT_EMBEDDER, CONSE_WEIGHT))
if point == "add":
    faiss.IndexIVFScalarQuantizer.add_with_ids = die
elif point == "fsync":
    os.fsync = die
else:
    os.replace = die
with Catalog.open(db, create=False) as catalog:
    Searcher(catalog, load_embedder(DEFAULT_EMBEDDER), exact=False).update_nearest_index()
raise SystemExit("not killed")
"""


@pytest.mark.parametrize("phase", ["append", "retrain", "rebuild"])
def test_the_index_survives_kill_9_in_every_phase_and_catches_up(indexed, embedder, phase, photo_folder, describer):
    _ranking(indexed, embedder, False, "a cat")  # the index, written
    written = AnnIndex.open(_folder(indexed, embedder))
    with Catalog.open(indexed, create=False) as catalog:  # changes for the update to apply
        removed, path = catalog.image_files()[0]
        catalog.remove_paths([path])
        catalog.prune_orphan_images()
        index_paths(catalog, [str(photo_folder / "chelsea.jpg")], describer, embedder)
    for point in ("add", "fsync", "replace"):
        killed = subprocess.run([sys.executable, "-c", _KILLED_UPDATE, str(indexed), phase, point], timeout=300)
        assert killed.returncode == -signal.SIGKILL, point
        # Whatever the kill left, a search reads only a whole file, agrees with exact search and
        # never returns the removed photo.
        left = AnnIndex.open(_folder(indexed, embedder))
        assert left is None or left.generation == written.generation, point
        for query in ("a cat", "a cup of coffee", "an astronaut"):
            found = _ranking(indexed, embedder, False, query, k=20)
            assert found == _ranking(indexed, embedder, True, query, k=20), (point, query)
            assert removed not in [i for i, _ in found]
        caught_up = AnnIndex.open(_folder(indexed, embedder))
        assert caught_up.generation > written.generation and caught_up.size == 68
        assert removed not in caught_up.nearest(np.ones(caught_up.dimensions, dtype=np.float32) / 20, 68).tolist()
        if phase != "rebuild":  # the index as it was before the changes, for the next kill
            _write_old_index(indexed, embedder, written.generation)


def _write_old_index(db, embedder, generation):
    """An index file of an older generation (the catalog's changes since are then applied again)."""
    folder = _folder(db, embedder)
    with Catalog.open(db, create=False) as catalog:
        searcher = Searcher(catalog, embedder, exact=True)
        searcher.size  # noqa: B018
        stored = searcher._index.vectors
    shutil.rmtree(folder, ignore_errors=True)
    ann_index.update(folder, stored.image_ids, stored.vectors, generation, stored.image_ids)


def test_an_index_run_keeps_the_index_of_a_large_catalog_current(indexed, embedder, photo_folder, monkeypatch):
    monkeypatch.setattr(search, "ANN_FROM", 10)  # this catalog stands for a large one
    with Library.open(indexed) as library:
        library.prepare_search()
        first = AnnIndex.open(_folder(indexed, embedder))
        assert first is not None and first.size == 68
        library.index([str(photo_folder / "chelsea.jpg")])
    after = AnnIndex.open(_folder(indexed, embedder))
    assert after.generation > first.generation and after.size == 69


def test_a_watch_pass_keeps_the_index_of_a_large_catalog_current(indexed, embedder, photo_folder, monkeypatch):
    monkeypatch.setattr(search, "ANN_FROM", 10)  # this catalog stands for a large one
    with Library.open(indexed) as library:
        library.prepare_search()
        first = AnnIndex.open(_folder(indexed, embedder))
        stop, passes = threading.Event(), []

        def on_pass(done) -> None:
            passes.append(done)
            stop.set()

        library.watch([str(photo_folder)], on_pass=on_pass, stop=stop, poll=True)
    assert [(p.reason, p.summary.described) for p in passes] == [("start", 17)]
    after = AnnIndex.open(_folder(indexed, embedder))
    assert after.generation > first.generation and after.size == 68 + 17


def test_changes_record_the_photos_they_touch(indexed, embedder):
    with Catalog.open(indexed, create=False) as catalog:
        generation = catalog.search_generation()
        assert len(catalog.changed_since(generation)) == 0
        image_id, path = catalog.image_files()[3]
        catalog.remove_paths([path])
        assert catalog.changed_since(generation).tolist() == [image_id]
        assert catalog.search_generation() > generation
        assert len(catalog.changed_since(0)) >= 68


def test_the_index_library_and_onnx_runtime_load_in_either_order():
    """Both bring native libraries (usearch 2.26.6, tried first, crashed the process when imported
    before onnxruntime 1.32)."""
    for first, second in (("faiss", "onnxruntime"), ("onnxruntime", "faiss")):
        loaded = subprocess.run([sys.executable, "-c", f"import {first}, {second}"], timeout=120)
        assert loaded.returncode == 0, (first, second)


def test_ranked_by_similarity_the_photos_holding_every_word_join_when_the_nearest_hold_too_few_answers(indexed, embedder, monkeypatch):
    """Through the index, a ranking by similarity alone weighs the evidence of its nearest photos
    only; when they hold fewer answers than the page needs, the photos holding every word of the
    query are considered too, so an answer that holds them is not lost for being further away."""
    monkeypatch.setattr(search, "ANN_DEPTH", 2)
    with Catalog.open(indexed, create=False) as catalog:
        coffee = next(i for i, p in catalog.image_files() if "coffee" in p)
        catalog.put_description(coffee, "notes", "", "bought at the market of Zanzibar")
        near = Searcher(catalog, embedder, ranking="vector", exact=False)
        exact = Searcher(catalog, embedder, ranking="vector", exact=True)
        truth = [r.image_id for r in exact.search("zanzibar market", k=3, weak=False)]
        assert coffee in truth  # an answer by its words, not among the nearest by meaning
        assert [r.image_id for r in near.search("zanzibar market", k=3, weak=False)] == truth
        assert near._ann is not None


def _clustered(rng: np.random.Generator, centres: np.ndarray, per_centre: int, spread: float = 0.15) -> np.ndarray:
    """Unit vectors in tight groups around the centres, as photo vectors are (bursts, a describer's
    identical texts)."""
    vectors = np.repeat(centres, per_centre, axis=0) + rng.normal(0, spread / np.sqrt(centres.shape[1]), (len(centres) * per_centre, centres.shape[1]))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_photos_of_a_new_kind_make_the_lists_train_again_and_others_do_not(tmp_path):
    """New photos far from every list's centre would be missed by the queries near them; past
    MISPLACED_SHARE of the catalog the lists are trained again. Photos like the ones the lists
    were trained on are only added."""
    rng = np.random.default_rng(5)
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    old_centres, new_centres = unit(rng.normal(size=(40, 64))), unit(rng.normal(size=(4, 64)))
    vectors = _clustered(rng, old_centres, 100)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    first = ann_index.update(tmp_path, ids, vectors, 1, ids)
    assert first.placement is not None and first.placement.added == 0

    # 200 more of the same kinds: added to the lists as they are.
    alike = _clustered(rng, old_centres[:4], 50)
    ids2 = np.arange(len(ids) + 1, len(ids) + 201, dtype=np.int64)
    kept = ann_index.update(tmp_path, np.concatenate([ids, ids2]), np.concatenate([vectors, alike]), 2, ids2)
    assert kept.size == 4200 and kept.placement.added == 200
    assert kept.placement.misplaced <= ann_index.MISPLACED_SHARE * 4200
    assert np.array_equal(faiss_centres(kept.index), faiss_centres(first.index))

    # 200 of kinds no list is near: the lists are trained again, on every photo.
    other = _clustered(rng, new_centres, 50)
    ids3 = np.arange(len(ids) + 201, len(ids) + 401, dtype=np.int64)
    all_ids, all_vectors = np.concatenate([ids, ids2, ids3]), np.concatenate([vectors, alike, other])
    before = ann_index._centre_similarity(kept.index, other)
    retrained = ann_index.update(tmp_path, all_ids, all_vectors, 3, ids3)
    assert retrained.size == 4400 and retrained.placement.added == 0
    assert not np.array_equal(faiss_centres(retrained.index), faiss_centres(kept.index))
    after = ann_index._centre_similarity(retrained.index, other)
    assert np.median(after) > np.median(before) + 0.1  # the new kinds have lists of their own now
    # Only the newest generation's files are kept, each index with its placement.
    assert sorted(p.suffix for p in tmp_path.iterdir() if not p.name.startswith(".")) == [".faiss", ".placement"]


def test_an_index_without_its_placement_gets_one_at_its_next_update(tmp_path):
    """An index written before placements were kept (or by a writer killed between the two
    files) is used as it is, and measured afresh by its next update."""
    rng = np.random.default_rng(6)
    vectors = _clustered(rng, rng.normal(size=(30, 32)), 50)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    built = ann_index.update(tmp_path, ids, vectors, 1, ids)
    built.path.with_suffix(".placement").unlink()
    reopened = AnnIndex.open(tmp_path)
    assert reopened.placement is None and reopened.size == len(ids)
    updated = ann_index.update(tmp_path, ids, vectors, 2, ids[::150])  # one photo of each of ten groups
    assert updated.placement is not None and updated.placement.added == 10
    assert np.array_equal(faiss_centres(updated.index), faiss_centres(built.index))


def faiss_centres(index) -> np.ndarray:
    """The list centres of an index, as an (nlist, d) array."""
    import faiss

    quantizer = faiss.extract_index_ivf(index).quantizer
    flat = faiss.rev_swig_ptr(faiss.downcast_index(quantizer).get_xb(), quantizer.ntotal * quantizer.d)
    return flat.reshape(quantizer.ntotal, quantizer.d).copy()
