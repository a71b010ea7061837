"""Ranking: the pure top-k, and plain queries finding the sample photos with the real models."""

from __future__ import annotations

import numpy as np
import pytest

from lucida.catalog import Catalog
from lucida.errors import LucidaError
from lucida.indexer import index_paths
from lucida.search import Searcher, top_k


def test_top_k_orders_best_first_and_breaks_ties_by_position():
    scores = np.array([0.1, 0.9, 0.5, 0.9, -0.2], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [1, 3, 2]
    assert top_k(scores, 10).tolist() == [1, 3, 2, 0, 4]
    assert top_k(scores[:0], 3).tolist() == []


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, sample_photos, describer, embedder):
    db = tmp_path_factory.mktemp("search") / "catalog.db"
    catalog = Catalog.open(db)
    index_paths(catalog, [str(sample_photos)], describer, embedder)
    yield Searcher(catalog, embedder)
    catalog.close()


@pytest.mark.parametrize(
    "query, expected",
    [
        ("a cat", "chelsea.jpg"),
        ("a cup of coffee", "coffee.jpg"),
        ("a rocket launch", "rocket.jpg"),
        ("a motorcycle", "motorcycle.jpg"),
    ],
)
def test_plain_queries_find_the_sample_photo_first(searcher, query, expected):
    results = searcher.search(query, k=3)
    assert results[0].path.endswith("/" + expected), [r.path for r in results]
    assert results[0].score > results[1].score


def test_k_limits_results_and_scores_are_cosines(searcher):
    results = searcher.search("a photo", k=5)
    assert len(results) == 5
    assert all(-1.0 <= r.score <= 1.0 for r in results)
    assert len(searcher.search("a photo", k=1000)) == 17


def test_bad_queries_are_user_errors(searcher):
    with pytest.raises(LucidaError, match="empty"):
        searcher.search("  ")
    with pytest.raises(LucidaError, match="-k"):
        searcher.search("a cat", k=0)


def test_searcher_sees_photos_indexed_after_it_started(tmp_path, photo_folder, describer, embedder):
    with Catalog.open(tmp_path / "c.db") as writer, Catalog.open(tmp_path / "c.db") as reader:
        index_paths(writer, [str(photo_folder / "coffee.jpg")], describer, embedder)
        searcher = Searcher(reader, embedder)
        assert searcher.size == 1
        index_paths(writer, [str(photo_folder / "chelsea.jpg")], describer, embedder)
        assert searcher.search("a cat", k=1)[0].path == str(photo_folder / "chelsea.jpg")
