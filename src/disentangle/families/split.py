"""Two groups of vectors by meaning: spherical 2-means, deterministic.

Family rules split a root's members (the mean embeddings of their top documents, centred on
the members' mean) in two to ask whether they are one topic's sub-topics or two topics that
share a word (``stages/family_rules.py``). The split is seeded with the vector least like
the mean and the one least like that, so it needs no random state.
"""

from __future__ import annotations

import numpy as np

ITERATIONS = 30


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def two_groups(vectors: np.ndarray, iterations: int = ITERATIONS) -> np.ndarray:
    """Group (0 or 1) of every row of ``vectors`` (normalised here); all 0 when the rows do
    not split (fewer than two, or all alike)."""
    unit = _unit(np.asarray(vectors, np.float64))
    groups = np.zeros(len(unit), np.int64)
    if len(unit) < 2:
        return groups
    first = int(np.argmin(unit @ unit.mean(axis=0)))
    centres = unit[[first, int(np.argmin(unit @ unit[first]))]]
    for _ in range(iterations):
        new = np.argmax(unit @ centres.T, axis=1)
        if new.min() == new.max() or np.array_equal(new, groups):
            return new
        centres = _unit(np.stack([unit[new == g].mean(axis=0) for g in (0, 1)]))
        groups = new
    return groups
