"""The search index beside the catalog (lucida.search_index): a new process reads it instead of
rebuilding it, a write makes it stale, and a damaged or unwritable copy only costs a rebuild."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from lucida.catalog import Catalog
from lucida.concepts import class_vectors, query_class_weights
from lucida.indexer import index_paths
from lucida.library import Library
from lucida.search import CONSE_WEIGHT, Searcher
from lucida import search_index
from lucida.search_index import ClassTable, SearchIndex, index_folder


@pytest.fixture
def indexed(tmp_path, sample_photos, describer, embedder):
    db = tmp_path / "catalog.db"
    with Catalog.open(db) as catalog:
        index_paths(catalog, [str(sample_photos)], describer, embedder)
    return db


def _hits(db, embedder, query="a cup of coffee"):
    with Catalog.open(db, create=False) as catalog:
        return [(r.path, round(r.score, 5)) for r in Searcher(catalog, embedder).search(query, k=5)]


def _folder(db, embedder):
    return index_folder(db, embedder.name, 0.5, None)


def test_a_new_searcher_reads_the_copy_instead_of_rebuilding(indexed, embedder, monkeypatch):
    first = _hits(indexed, embedder)
    assert (_folder(indexed, embedder) / "meta.json").is_file()

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt from SQL although the copy is current")

    monkeypatch.setattr(SearchIndex, "build", no_rebuild)
    assert _hits(indexed, embedder) == first
    assert first[0][0].endswith("coffee.jpg")


def test_a_write_to_the_catalog_makes_the_copy_stale_and_only_the_change_is_read(indexed, embedder, monkeypatch):
    before = _hits(indexed, embedder)
    coffee = before[0][0]
    with Catalog.open(indexed, create=False) as catalog:
        catalog.remove_paths([coffee])
    builds = []
    real_build = SearchIndex.build.__func__

    def counted(cls, *args, **kwargs):
        builds.append(1)
        return real_build(cls, *args, **kwargs)

    monkeypatch.setattr(SearchIndex, "build", classmethod(counted))
    after = _hits(indexed, embedder)
    assert builds == [] and coffee not in [path for path, _ in after]
    assert json.loads((_folder(indexed, embedder) / "meta.json").read_text())["generation"] == _generation(indexed)


def _generation(db):
    with Catalog.open(db, create=False) as catalog:
        return catalog.search_generation()


def _arrays(index: SearchIndex) -> dict:
    table = index.class_table
    return {
        "image_ids": np.asarray(index.vectors.image_ids), "vectors": np.asarray(index.vectors.vectors),
        "group_rows": index.group_rows, "description_rows": index.description_rows,
        "offsets": np.asarray(table.offsets), "rows": np.asarray(table.rows),
        "probabilities": np.asarray(table.probabilities), "second_files": np.array([index.second_files]),
    }  # fmt: skip


def test_a_copy_brought_up_to_date_equals_a_full_build(indexed, embedder, photo_folder, describer, monkeypatch):
    """Removed, added and re-described photos: the caught-up copy holds what a build from SQL
    holds, array for array."""
    _hits(indexed, embedder)
    with Image.open(photo_folder / "chelsea.jpg") as image:
        image.crop((10, 10, image.width - 10, image.height - 10)).save(photo_folder / "chelsea_crop.jpg")
    with Catalog.open(indexed, create=False) as catalog:
        catalog.remove_paths([p for _, p in catalog.image_files() if p.endswith(("coffee.jpg", "coins.jpg"))])
        catalog.prune_orphan_images()
        index_paths(catalog, [str(photo_folder / "chelsea_crop.jpg")], describer, embedder)
        camera = next(i for i, p in catalog.image_files() if p.endswith("camera.jpg"))
        with catalog.transaction():  # a caption now stands for the camera photo
            caption = catalog.put_description(camera, "a captioner", "", "a man with a film camera", kind="captioner")
            catalog.put_embedding(caption, embedder.name, embedder.embed_documents(["a man with a film camera"])[0])
    builds = []
    real_build = SearchIndex.build.__func__
    monkeypatch.setattr(SearchIndex, "build", classmethod(lambda cls, *a, **k: builds.append(1) or real_build(cls, *a, **k)))
    with Catalog.open(indexed, create=False) as catalog:
        caught_up = SearchIndex.load(catalog, embedder, CONSE_WEIGHT, None)
        assert builds == []
        built = real_build(SearchIndex, catalog, embedder, CONSE_WEIGHT, None)
        assert catalog.result_rows([camera])[camera].caption == "a man with a film camera"
    mine, theirs = _arrays(caught_up), _arrays(built)
    assert len(mine["image_ids"]) == 17 - 2 + 1
    for name in theirs:
        assert np.array_equal(mine[name], theirs[name]), name
    assert caught_up.groups == built.groups


def test_changed_class_text_vectors_force_a_full_build(indexed, embedder, monkeypatch):
    _hits(indexed, embedder)
    with Catalog.open(indexed, create=False) as catalog:
        catalog.remove_paths([next(p for _, p in catalog.image_files() if p.endswith("coins.jpg"))])
    real_vectors = search_index.class_vectors

    def other_vectors(catalog, embedder):  # as if the class texts had been embedded again, differently
        vectors = dict(real_vectors(catalog, embedder))
        first = next(iter(vectors))
        vectors[first] = -vectors[first]
        return vectors

    monkeypatch.setattr(search_index, "class_vectors", other_vectors)
    builds = []
    real_build = SearchIndex.build.__func__
    monkeypatch.setattr(SearchIndex, "build", classmethod(lambda cls, *a, **k: builds.append(1) or real_build(cls, *a, **k)))
    _hits(indexed, embedder)
    assert builds == [1]


def test_a_damaged_or_unwritable_copy_only_costs_a_rebuild(indexed, embedder, tmp_path, sample_photos, describer):
    expected = _hits(indexed, embedder)
    folder = _folder(indexed, embedder)
    (folder / "vectors.npy").write_bytes(b"\x93NUMPY truncated")
    assert _hits(indexed, embedder) == expected
    # Where nothing can be written beside the catalog (here a file stands where the folder goes).
    other = tmp_path / "other" / "catalog.db"
    other.parent.mkdir()
    with Catalog.open(other) as catalog:
        index_paths(catalog, [str(sample_photos / "coffee.jpg"), str(sample_photos / "chelsea.jpg")], describer, embedder)
    blocked = index_folder(other, embedder.name, 0.5, None).parent
    blocked.write_text("not a folder")
    assert _hits(other, embedder)[0][0].endswith("coffee.jpg")
    assert blocked.read_text() == "not a folder"


def test_class_postings_score_as_the_sum_over_each_photos_classes(indexed, embedder):
    # Σ_c w_c · p(c | photo), from postings by class, equals the sum over each photo's classes.
    with Catalog.open(indexed, create=False) as catalog:
        index = SearchIndex.build(catalog, embedder, 0.5, None)
        found = catalog.photo_classes()
        synsets = {s: i for i, s in enumerate(class_vectors(catalog, embedder))}  # class_matrix's rows
    table = index.class_table
    assert isinstance(table, ClassTable)
    rng = np.random.default_rng(0)
    for _ in range(5):
        query = rng.standard_normal(table.class_matrix.shape[1]).astype(np.float32)
        weights = query_class_weights(query, table.class_matrix)
        expected = np.array(
            [sum(weights[synsets[c["synset"]]] * c["p"] for c in found.get(int(i), [])) for i in table.image_ids],
            dtype=np.float32,
        )
        np.testing.assert_allclose(table.scores(query), expected, atol=1e-6)


def test_an_index_run_leaves_the_copy_ready_for_the_next_search(tmp_path, sample_photos):
    # The next search, often a new process, must not pay the build (15 s at 100,000 photos).
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea.jpg", "coffee.jpg", "rocket.jpg"):
        shutil.copy(sample_photos / name, photos)
    db = tmp_path / "catalog.db"
    with Library.open(db, create=True) as library:
        library.index([str(photos)])
        folder = index_folder(db, library.search_embedder().name, CONSE_WEIGHT, None)
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["generation"] == library.catalog.search_generation()
        (photos / "rocket.jpg").unlink()
        library.index([str(photos)])  # a removal is a change too
        assert json.loads((folder / "meta.json").read_text())["generation"] == library.catalog.search_generation()
        assert len(np.load(folder / "image_ids.npy")) == 2


def test_words_kept_one_by_one_give_the_photos_fts5_finds_each_in(indexed, embedder):
    """A photo holds the query's words when each is in one of its descriptions (a camera in the
    metadata's text, "night" in the describer's); tested row by row as a search through the
    nearest-neighbour index does, and over every row as exact search does."""
    with Catalog.open(indexed, create=False) as catalog:
        searcher = Searcher(catalog, embedder)
        searcher.search("a cat", k=1)
        index = searcher._index
        size = len(index.vectors.image_ids)
        some_rows = np.array([0, size - 1]) if size > 1 else np.array([0])
        for words in (["cup", "coffee"], ["cat"], ["coffee", "nosuchword"], ["brown", "animal"], []):
            each = [_photo_mask(index, catalog.descriptions_holding([w], every=False)) for w in words]
            every = np.logical_and.reduce(each) if each else np.zeros(size, dtype=bool)
            some = np.logical_or.reduce(each) if each else np.zeros(size, dtype=bool)
            assert np.array_equal(searcher._holding_rows(words), np.flatnonzero(every)), words
            assert np.array_equal(searcher._holding_at(words, np.arange(size), True, every=True), every), words
            assert np.array_equal(searcher._holding_at(words, np.arange(size), True, every=False), some), words
            assert np.array_equal(searcher._holding_at(words, some_rows, False, every=True), every[some_rows]), words
            assert np.array_equal(searcher._holding_at(words, some_rows, False, every=False), some[some_rows]), words
        assert searcher._holding_rows(["cup", "coffee"]).size > 0  # the checks above are not all empty
        assert searcher._holding_rows(["zanzibar"]).size == 0
        with Catalog.open(indexed, create=False) as writer:  # another process, say
            coffee = next(i for i, p in writer.image_files() if p.endswith("coffee.jpg"))
            writer.put_description(coffee, "notes", "", "a cup in Zanzibar")
        searcher.search("a cat", k=1)  # a new generation: the words' lists are fetched again
        found = searcher._holding_rows(["zanzibar"])
        assert [int(i) for i in searcher._index.vectors.image_ids[found]] == [coffee]
        # "zanzibar" from the notes and "coffee" from the describer's text: the photo holds both.
        assert [int(i) for i in searcher._index.vectors.image_ids[searcher._holding_rows(["zanzibar", "coffee"])]] == [coffee]


def _photo_mask(index, description_ids: np.ndarray) -> np.ndarray:
    """A mask over the rows: the photos with one of these descriptions."""
    mask = np.zeros(len(index.vectors.image_ids), dtype=bool)
    rows = index.description_rows[description_ids]
    mask[rows[rows >= 0]] = True
    return mask
