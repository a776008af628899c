"""Does a set of documents hold one topic or two? A root named by one word may fire on two
topics that share it ("cluster": star clusters and galaxy clusters; "dwarfs": white and brown
dwarfs); its strongest documents then fall into two groups whose papers are not alike.

Read from embeddings only: split the unit vectors into two groups by spherical 2-means
(deterministic: seeded with the document least like the mean and the one least like that),
then report how balanced the split is and how far apart the two groups' mean directions are.
One topic splits into two groups that are still alike, or into a core and a few strays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ITERATIONS = 30


@dataclass(frozen=True)
class Split:
    """Two groups of documents: the smaller group's share and the cosine of their means."""

    balance: float
    """Share of the documents in the smaller group (0–0.5)."""
    similarity: float
    """Cosine between the two groups' unit mean embeddings (1: alike)."""
    groups: np.ndarray
    """Group (0 or 1) of every document, in the order given."""


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def two_groups(vectors: np.ndarray, iterations: int = ITERATIONS) -> Split:
    """Spherical 2-means of ``vectors`` (rows; normalised here), see the module notes."""
    unit = _unit(np.asarray(vectors, np.float64))
    if len(unit) < 2:
        return Split(0.0, 1.0, np.zeros(len(unit), np.int64))
    first = int(np.argmin(unit @ unit.mean(axis=0)))
    second = int(np.argmin(unit @ unit[first]))
    centres = unit[[first, second]]
    groups = np.zeros(len(unit), np.int64)
    for _ in range(iterations):
        new = np.argmax(unit @ centres.T, axis=1)
        if new.min() == new.max():
            groups = new
            break
        centres = _unit(np.stack([unit[new == g].mean(axis=0) for g in (0, 1)]))
        if np.array_equal(new, groups):
            break
        groups = new
    smaller = min(int((groups == 0).sum()), int((groups == 1).sum()))
    if smaller == 0:
        return Split(0.0, 1.0, groups)
    return Split(smaller / len(unit), float(centres[0] @ centres[1]), groups)
