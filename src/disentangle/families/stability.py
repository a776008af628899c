"""Do features and families survive a re-seed or a larger SAE? (No peer measures this.)"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from disentangle.families.activation import family_membership
from disentangle.families.extract import Family
from disentangle.families.matching import best_match


def feature_stability(weights_a: np.ndarray, weights_b: np.ndarray) -> np.ndarray:
    """Per feature of SAE A, the best decoder cosine to any feature of SAE B."""
    return best_match(weights_a, weights_b)[1]


def family_stability(
    families_a: Sequence[Family],
    families_b: Sequence[Family],
    feature_map: np.ndarray,
    n_features_b: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per family of A: best Jaccard with any family of B, and that family's index (-1 if B
    has none).

    Members (parent and children) of an A family are mapped through ``feature_map`` (A feature
    → its best-matching B feature, from ``best_match(W_a, W_b)``) before comparing; two A
    members mapped to one B feature count once.
    """
    if not families_a or not families_b:
        return np.zeros(len(families_a)), np.full(len(families_a), -1, dtype=np.int64)
    mapped = family_membership(families_a, len(feature_map)).T @ sparse.csr_matrix(
        (np.ones(len(feature_map), np.float32),
         (np.arange(len(feature_map)), np.asarray(feature_map, dtype=np.int64))),
        shape=(len(feature_map), n_features_b))
    mapped = (mapped > 0).astype(np.float32)
    target = family_membership(families_b, n_features_b)
    inter = (mapped @ target).toarray()
    size_a = np.asarray(mapped.sum(axis=1)).reshape(-1, 1)
    size_b = np.asarray(target.sum(axis=0)).reshape(1, -1)
    score = inter / (size_a + size_b - inter)
    best = score.argmax(axis=1)
    return score[np.arange(len(best)), best], best
