"""Stability is 1 for identical SAEs and low for unrelated ones."""

from __future__ import annotations

import numpy as np

from disentangle.families import Family, best_match, family_stability, feature_stability


def _families(rng: np.random.Generator, n: int) -> list[Family]:
    ids = rng.permutation(n)[:60].reshape(10, 6)
    return [Family(i, int(r[0]), r[1:].tolist(), r[1:].tolist(), 0, 0, 0.1)
            for i, r in enumerate(ids)]


def test_identical_saes_score_one():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(200, 32))
    families = _families(rng, 200)
    mapping, _ = best_match(weights, weights)
    score, best = family_stability(families, families, mapping, 200)
    assert np.allclose(score, 1) and best.tolist() == list(range(10))
    assert np.allclose(feature_stability(weights, weights), 1, atol=1e-5)


def test_random_saes_score_low():
    rng = np.random.default_rng(1)
    weights_a, weights_b = rng.normal(size=(200, 32)), rng.normal(size=(200, 32))
    mapping, _ = best_match(weights_a, weights_b)
    score, _ = family_stability(_families(rng, 200), _families(rng, 200), mapping, 200)
    assert score.mean() < 0.2
    assert feature_stability(weights_a, weights_b).mean() < 0.8
