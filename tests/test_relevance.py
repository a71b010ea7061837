"""Calibrated relevance (lucida.relevance): a probability per photo, a cutoff per embedding space."""

from __future__ import annotations

import numpy as np

from lucida.models.registry import DEFAULT_EMBEDDER, MULTILINGUAL_EMBEDDER
from lucida.relevance import CALIBRATIONS, EXCLUDED_FROM, FALLBACK, FEATURES, calibration_for, evidence


def _evidence(similarity, every=0.0, some=0.0, class_score=0.0):
    n = len(similarity)
    classes = np.linspace(-0.1, 0.3, 1000).astype(np.float32)  # a query's similarity to the class texts
    return evidence(
        np.asarray(similarity, dtype=np.float32), classes, np.full(n, every, np.float32),
        np.full(n, some, np.float32), np.full(n, class_score, np.float32),
    )


def test_every_offline_embedder_has_its_own_calibration_and_others_the_fallback():
    assert {DEFAULT_EMBEDDER, MULTILINGUAL_EMBEDDER} <= set(CALIBRATIONS)
    for space, calibration in CALIBRATIONS.items():
        assert calibration_for(space) is calibration
        assert len(calibration.weights) == len(FEATURES) and 0 < calibration.threshold < EXCLUDED_FROM
    assert calibration_for("openai:text-embedding-3-large") is FALLBACK
    assert FALLBACK.weights[FEATURES.index("similarity")] == 0  # no space's raw cosine scale


def test_relevance_is_a_probability_that_rises_with_similarity_and_words():
    similarity = np.linspace(-0.2, 0.95, 50)
    for calibration in [*CALIBRATIONS.values(), FALLBACK]:
        relevance = calibration.relevance(_evidence(similarity))
        assert relevance.dtype == np.float32 and np.all((relevance >= 0) & (relevance <= 1))
        assert np.all(np.diff(relevance) >= 0), calibration.space
        with_words = calibration.relevance(_evidence(similarity, every=1.0, some=1.0))
        assert np.all(with_words > relevance), calibration.space


def test_a_query_naming_a_class_the_photo_lacks_counts_against_it():
    for calibration in CALIBRATIONS.values():
        has_it = calibration.relevance(_evidence([0.3], class_score=0.8))[0]
        lacks_it = calibration.relevance(_evidence([0.3], class_score=0.0))[0]
        assert has_it > lacks_it, calibration.space


def test_evidence_without_class_texts_has_no_z():
    rows = evidence(np.array([0.2, 0.5], np.float32), None, np.zeros(2, np.float32), np.zeros(2, np.float32), np.zeros(2, np.float32))
    assert rows.shape == (2, len(FEATURES)) and np.all(rows[:, FEATURES.index("similarity_z")] == 0)


def test_relevance_of_a_whole_catalog_equals_relevance_of_its_evidence():
    # Search computes relevance without building the (n, 7) evidence array; it must be the same
    # model, with and without class texts, for every calibration.
    rng = np.random.default_rng(4)
    n = 2000
    similarity = rng.uniform(-0.2, 0.9, n).astype(np.float32)
    every = rng.random(n) < 0.05
    some = every | (rng.random(n) < 0.2)
    class_score = np.where(rng.random(n) < 0.3, rng.random(n), 0).astype(np.float32)
    for class_similarity in (rng.uniform(-0.1, 0.6, 1000).astype(np.float32), None):
        stacked = evidence(similarity, class_similarity, every.astype(np.float32), some.astype(np.float32), class_score)
        for calibration in [*CALIBRATIONS.values(), FALLBACK]:
            expected = calibration.relevance(stacked)
            found = calibration.relevance_of(similarity, class_similarity, every, some, class_score)
            assert found.dtype == np.float32 and found.shape == (n,)
            np.testing.assert_allclose(found, expected, atol=2e-6)
