"""Synthetic top-k codes with a planted feature hierarchy, shared by the family tests."""

from __future__ import annotations

import numpy as np

from disentangle.codes import SparseCodes

K = 4
PLANTED = {0: [3, 4, 5, 6], 1: [7, 8, 9, 10, 11], 2: [12, 13, 14, 15, 16, 17]}
NOISE = list(range(18, 48))


def planted_codes(
    hierarchy: dict[int, list[int]],
    n_features: int,
    noise: list[int],
    docs_per_leaf: int = 40,
    noise_docs: int = 3000,
    extra_rows: list[list[int]] | None = None,
    grandparent: int | None = None,
    seed: int = 0,
) -> SparseCodes:
    """Each family document holds one child and its parent (children never meet); an optional
    grandparent joins exactly 4 in 5 of them, so the tree is deterministic. Noise documents
    hold 2 random noise features, which co-occur far below the 0.1 threshold and never with
    the families."""
    rng = np.random.default_rng(seed)
    rows: list[list[int]] = []
    for parent, children in hierarchy.items():
        for child in children:
            for j in range(docs_per_leaf):
                row = [child, parent]
                if grandparent is not None and j % 5 != 0:
                    row.append(grandparent)
                rows.append(row)
    rows += [rng.choice(noise, 2, replace=False).tolist() for _ in range(noise_docs)]
    rows += extra_rows or []
    indices = np.zeros((len(rows), K), np.int32)
    values = np.zeros((len(rows), K), np.float32)
    for i, row in enumerate(rows):
        indices[i, :len(row)] = row
        values[i, :len(row)] = rng.uniform(0.5, 2.0, len(row))
    order = rng.permutation(len(rows))
    return SparseCodes(indices[order], values[order], n_features)
