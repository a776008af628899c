"""Cross-size matching finds a planted split; Hungarian recovers a permutation."""

from __future__ import annotations

import numpy as np

from disentangle.families import (
    best_match,
    hungarian_match,
    persistence,
    split_chain,
    splits,
)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _split_pair(seed: int = 0):
    """Small SAE: 20 atoms; atom 0 is the normalised sum of large atoms 0 and 1, the others
    copy large atoms 2..20. The large SAE has 21 atoms in 64 dimensions."""
    rng = np.random.default_rng(seed)
    large = _unit(rng.normal(size=(21, 64)))
    small = np.vstack([_unit(large[:1] + large[1:2]), large[2:]])
    return small, large


def test_planted_split_is_found():
    small, large = _split_pair()
    match, cosine = best_match(large, small, chunk=4)
    groups = splits(match, len(small))
    assert groups[0] == [0, 1]
    assert all(groups[i] == [i + 1] for i in range(1, 20))
    assert np.allclose(cosine[2:], 1, atol=1e-5) and np.all(cosine[:2] > 0.6)
    summary = persistence(cosine, threshold=0.9)
    assert summary["persisting"] == 19 and summary["new"] == 2


def test_split_chain_consistency():
    small, middle = _split_pair()
    rng = np.random.default_rng(3)
    extra = _unit(rng.normal(size=(1, 64)))
    large = np.vstack([middle, extra])
    chain = split_chain([small, middle, large])
    assert chain.descendants(0) == [[0], [0, 1], [0, 1]]
    consistency = chain.consistency()
    assert np.nanmin(consistency) == 1.0


def test_hungarian_recovers_permutation():
    rng = np.random.default_rng(1)
    weights = _unit(rng.normal(size=(30, 16)))
    perm = rng.permutation(30)
    assigned, cosine = hungarian_match(weights[perm], weights)
    assert np.array_equal(assigned, perm) and np.allclose(cosine, 1, atol=1e-5)
