"""Ranking: the pure top-k, and plain queries finding the sample photos with the real models."""

from __future__ import annotations

import numpy as np
import pytest

from lucida.catalog import open_catalog
from lucida.errors import LucidaError
from lucida.indexer import index_paths
from lucida.search import Searcher, top_k
from lucida.translation import dictionaries_installed

needs_dictionaries = pytest.mark.skipif(
    not dictionaries_installed(), reason="no FreeDict dictionaries: run make system-deps"
)


def test_top_k_orders_best_first_and_breaks_ties_by_position():
    scores = np.array([0.1, 0.9, 0.5, 0.9, -0.2], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [1, 3, 2]
    assert top_k(scores, 10).tolist() == [1, 3, 2, 0, 4]
    assert top_k(scores[:0], 3).tolist() == []


@pytest.fixture(scope="module")
def searcher(module_catalog_location, sample_photos, describer, embedder):
    catalog = open_catalog(module_catalog_location)
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
        # In other languages, searched in English words (lucida.translation, tests/test_translation.py).
        *(
            pytest.param(query, expected, marks=needs_dictionaries)
            for query, expected in [
                ("une tasse de café", "coffee.jpg"),
                ("eine Rakete", "rocket.jpg"),
                ("una moto", "motorcycle.jpg"),
                ("猫", "chelsea.jpg"),
                ("コーヒーカップ", "coffee.jpg"),
            ]
        ),
    ],
)
def test_plain_queries_find_the_sample_photo_first(searcher, query, expected):
    results = searcher.search(query, k=3)
    assert results[0].path.endswith("/" + expected), [r.path for r in results]
    assert results[0].score > results[1].score


def test_k_limits_results_and_scores_are_relevance(searcher):
    results = searcher.search("a photo", k=5)
    assert len(results) == 5
    assert all(0.0 <= r.score <= 1.0 and -1.0 <= r.why["similarity"] <= 1.0 for r in results)
    assert len(searcher.search("a photo", k=1000)) == 17


def test_bad_queries_are_user_errors(searcher):
    with pytest.raises(LucidaError, match="empty"):
        searcher.search("  ")
    # What a URL's %00 or %FF%FE decodes to has nothing to search for either.
    for query in ("\x00", "\x01\x02", "\ufffd\ufffd", "\u200b \t"):
        with pytest.raises(LucidaError, match="empty"):
            searcher.search(query)
    assert searcher.search("東京", k=1) and searcher.search("🐱", k=1)
    with pytest.raises(LucidaError, match="-k"):
        searcher.search("a cat", k=0)


def test_searcher_sees_photos_indexed_after_it_started(catalog_location, photo_folder, describer, embedder):
    with open_catalog(catalog_location) as writer, open_catalog(catalog_location) as reader:
        index_paths(writer, [str(photo_folder / "coffee.jpg")], describer, embedder)
        searcher = Searcher(reader, embedder)
        assert searcher.size == 1
        index_paths(writer, [str(photo_folder / "chelsea.jpg")], describer, embedder)
        assert searcher.search("a cat", k=1)[0].path == str(photo_folder / "chelsea.jpg")


def test_repeated_queries_and_pages_are_embedded_once(searcher):
    calls = []
    embed = searcher.embedder.embed_queries

    def counting(texts):
        calls.append(list(texts))
        return embed(texts)

    searcher.embedder.embed_queries = counting
    try:
        first = searcher.search("a wall clock at dusk", k=3)
        second_page = searcher.search("a wall clock at dusk", k=3, offset=3)
        again = searcher.search("a wall clock at dusk", k=3)
    finally:
        del searcher.embedder.embed_queries
    assert calls == [["a wall clock at dusk"]]
    assert [r.path for r in again] == [r.path for r in first]
    assert not {r.path for r in first} & {r.path for r in second_page}


def test_offset_pages_through_one_ranking(searcher):
    whole = [r.image_id for r in searcher.search("a rocket", k=17)]
    paged = [r.image_id for offset in range(0, 17, 4) for r in searcher.search("a rocket", k=4, offset=offset)]
    assert paged == whole
    assert searcher.search("a rocket", k=4, offset=17) == []
    with pytest.raises(LucidaError, match="offset"):
        searcher.search("a rocket", offset=-1)


def test_search_by_vector_and_score_agree_with_search(searcher):
    vector_only = Searcher(searcher.catalog, searcher.embedder, ranking="vector")
    best = vector_only.search("a cup of coffee", k=3)
    vector = searcher.embedder.embed_queries(["a cup of coffee"])[0]
    # A search by vector scores by cosine; a query's results by calibrated relevance, with the
    # cosine in `why`.
    assert [(r.image_id, round(r.score, 5)) for r in searcher.search_vector(vector, k=3)] == [
        (r.image_id, round(r.why["similarity"], 5)) for r in best
    ]
    assert searcher.score_vector(vector, best[0].image_id) == pytest.approx(best[0].why["similarity"], abs=1e-5)
    assert searcher.score_vector(vector, 10**9) is None
    assert best[0].width and best[0].height
    # A hybrid search ranks by fused ranks; the similarity it reports is the same cosine.
    hybrid = searcher.search("a cup of coffee", k=1)[0]
    assert searcher.score_vector(vector, hybrid.image_id) == pytest.approx(hybrid.why["similarity"], abs=1e-5)


def test_similar_ranks_every_other_photo_and_never_itself(searcher):
    cat = searcher.search("a cat", k=1)[0]
    similar = searcher.similar(cat.image_id, k=100)
    assert cat.image_id not in [r.image_id for r in similar]
    assert len(similar) == 16
    assert [r.score for r in similar] == sorted((r.score for r in similar), reverse=True)
    assert searcher.similar(cat.image_id, k=3, offset=3) == similar[3:6]
    assert searcher.similar(10**9) is None


def test_the_classes_a_result_shows_are_its_photos_likeliest_even_when_a_caption_stands_for_it(
    catalog_location, sample_photos, describer, embedder
):
    """A result's `why` classes come with its row when its preferred description has classes, and
    from the next description that has them when a caption without classes stands for the photo:
    either way, what Catalog.photo_classes says."""
    with open_catalog(catalog_location) as catalog:
        index_paths(catalog, [str(sample_photos)], describer, embedder)
        cat = next(i for i, p in catalog.image_files() if p.endswith("chelsea.jpg"))
        catalog.put_description(cat, "florence2:tiny", "<CAPTION>", "a tabby cat on a sofa", None, "captioner")
        results = Searcher(catalog, embedder).search("a cat", k=17)
        expected = catalog.photo_classes([r.image_id for r in results])
        assert cat in {r.image_id for r in results} and len(expected) == len(results) == 17
        assert next(r for r in results if r.image_id == cat).caption == "a tabby cat on a sofa"
        for result in results:
            assert result.why["classes"] == [{"label": c["label"], "p": c["p"]} for c in expected[result.image_id][:3]]
            assert result.why["classes"], result.path


@needs_dictionaries
def test_an_excluded_word_in_another_language_is_translated_too(searcher):
    everything = [r.path for r in searcher.search("un animal", k=17)]
    assert any(p.endswith("/chelsea.jpg") for p in everything)
    without = [r.path for r in searcher.search("un animal sans chat", k=17)]
    assert not any(p.endswith("/chelsea.jpg") for p in without)
