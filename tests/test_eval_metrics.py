"""Caption and retrieval metrics against values worked out by hand, and the Pareto front."""

from __future__ import annotations

import math

import pytest

from lucida.errors import LucidaError
from lucida.evaluate.metrics import caption_metrics, normalise_caption, pareto_front, retrieval_metrics

REFERENCES = {
    "cat.jpg": ["A cat sits on the mat.", "There is a tabby cat on a rug"],
    "dog.jpg": ["A brown dog runs across the park", "a dog playing on the grass"],
    "car.jpg": ["A red car parked on a street", "a small red car by the road"],
}


def test_normalise_caption_lowercases_and_drops_punctuation():
    assert normalise_caption("  A Cat, on the MAT! (tabby) ") == "a cat on the mat tabby"


def test_identical_captions_score_perfectly():
    candidates = {key: refs[0] for key, refs in REFERENCES.items()}
    scores = caption_metrics(candidates, REFERENCES)
    for order in range(1, 5):
        assert scores[f"BLEU-{order}"] == pytest.approx(100)
    assert scores["ROUGE-L"] == pytest.approx(1)
    assert scores["length"] == pytest.approx((6 + 7 + 7) / 3)


def test_cider_of_the_one_reference_itself_is_ten():
    # CIDEr-D averages over references; with one, an identical caption has cosine 1 at every
    # n-gram order and no length penalty, and the score is scaled by 10.
    references = {key: refs[:1] for key, refs in REFERENCES.items()}
    candidates = {key: refs[0] for key, refs in references.items()}
    assert caption_metrics(candidates, references)["CIDEr"] == pytest.approx(10)


def test_disjoint_captions_score_zero():
    candidates = {"cat.jpg": "blue whale swimming", "dog.jpg": "snowy mountain peak", "car.jpg": "empty wooden chair"}
    scores = caption_metrics(candidates, REFERENCES)
    assert {key: scores[key] for key in ("BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr")} == {
        "BLEU-1": 0,
        "BLEU-4": 0,
        "ROUGE-L": 0,
        "CIDEr": 0,
    }
    assert scores["length"] == 3


def test_bleu_by_hand():
    # "the cat sat on the mat" against "the cat is on the mat": 5 of 6 words match, 3 of 5 bigrams
    # (the cat, on the, the mat); same length, so no brevity penalty.
    scores = caption_metrics({"a": "The cat sat on the mat"}, {"a": ["the cat is on the mat"]})
    assert scores["BLEU-1"] == pytest.approx(100 * 5 / 6)
    assert scores["BLEU-2"] == pytest.approx(100 * math.sqrt(5 / 6 * 3 / 5))


def test_rouge_l_takes_the_best_reference():
    # longest common subsequence with the first reference: "a cat on mat", 4 words;
    # precision 4/5, recall 4/6, F = 8/11. The second reference shares only "a".
    references = {"a": ["a cat sat on the mat", "a dog"]}
    assert caption_metrics({"a": "a cat on a mat"}, references)["ROUGE-L"] == pytest.approx(8 / 11)


def test_better_captions_get_higher_cider():
    close = {
        "cat.jpg": "a tabby cat on the mat",
        "dog.jpg": "a dog runs in the park",
        "car.jpg": "a red car on the street",
    }
    vague = {"cat.jpg": "an animal", "dog.jpg": "an animal outside", "car.jpg": "a thing on a road"}
    assert caption_metrics(close, REFERENCES)["CIDEr"] > caption_metrics(vague, REFERENCES)["CIDEr"] > 0


def test_caption_without_references_is_an_error():
    with pytest.raises(LucidaError, match="no reference captions for 'bird.jpg'"):
        caption_metrics({"bird.jpg": "a bird"}, REFERENCES)


# Four queries: the relevant image at rank 1, at rank 3, at rank 11 (outside every cut-off) and absent.
RANKINGS = {
    "first": ["a", "x", "y"],
    "third": ["x", "y", "b", "z"],
    "eleventh": [f"other{i}" for i in range(10)] + ["c"],
    "absent": ["x", "y", "z"],
}
RELEVANT = {
    "first": frozenset({"a"}),
    "third": frozenset({"b"}),
    "eleventh": frozenset({"c"}),
    "absent": frozenset({"d"}),
}


def test_retrieval_metrics_by_hand():
    scores = retrieval_metrics(RANKINGS, RELEVANT)
    assert scores == pytest.approx(
        {
            "R@1": 1 / 4,
            "R@5": 2 / 4,
            "R@10": 2 / 4,
            "MRR@10": (1 + 1 / 3) / 4,
            # one relevant image a query, so the ideal DCG is 1; rank 3 gains 1 / log2(4)
            "nDCG@10": (1 + 1 / math.log2(4)) / 4,
        }
    )


def test_recall_counts_queries_not_relevant_images():
    # A query with two relevant images, one found at rank 1: it counts as a hit, as in COCO retrieval.
    scores = retrieval_metrics({"q": ["a", "x"]}, {"q": frozenset({"a", "b"})})
    assert scores["R@1"] == 1
    assert scores["MRR@10"] == 1
    # DCG 1 against the ideal 1 + 1/log2(3)
    assert scores["nDCG@10"] == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_queries_without_a_ranking_are_misses():
    scores = retrieval_metrics({"first": ["a"]}, RELEVANT)
    assert scores["R@10"] == pytest.approx(1 / 4)
    assert retrieval_metrics({"first": []}, {"first": frozenset({"a"})})["R@10"] == 0


def test_retrieval_input_errors():
    with pytest.raises(LucidaError, match="query 'stray' has a ranking but no relevant images"):
        retrieval_metrics({"stray": ["a"]}, RELEVANT)
    with pytest.raises(LucidaError, match="lists an image twice"):
        retrieval_metrics({"first": ["a", "a"]}, RELEVANT)


def test_pareto_front():
    # (R@10, seconds per photo)
    points = [(0.9, 2.0), (0.8, 1.0), (0.7, 1.5), (0.5, 0.1), (0.9, 2.5), (0.9, 2.0)]
    # (0.7, 1.5) loses to (0.8, 1.0); (0.9, 2.5) to (0.9, 2.0); equal points do not dominate each other
    assert pareto_front(points) == [True, True, False, True, False, True]
    assert pareto_front([]) == []
    assert pareto_front([(0.1, 9.0)]) == [True]
