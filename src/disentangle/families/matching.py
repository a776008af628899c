"""Features across SAEs: best decoder-cosine matches, persistence, splits and split chains.

Each feature of the *query* SAE (e.g. the larger one) is matched to its nearest feature of the
*reference* SAE (the smaller one) by cosine of decoder rows; a reference feature matched by
several query features has *split*. Cosines come from a chunked matmul, so only a
``chunk × n_reference`` block is ever in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy.optimize import linear_sum_assignment

from disentangle.errors import DisentangleError

PERSIST_COSINE = 0.7
"""A feature whose best match reaches this cosine is counted as persisting (else "new")."""


def unit_rows(weights: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (decoders should be already; this guards against drift)."""
    weights = np.asarray(weights, dtype=np.float32)
    norms = np.linalg.norm(weights, axis=1, keepdims=True)
    return weights / np.maximum(norms, 1e-12)


def best_match(
    query: np.ndarray, reference: np.ndarray, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """For each query row: index of the most similar reference row and that cosine."""
    if query.shape[1] != reference.shape[1]:
        raise DisentangleError(f"decoder widths differ ({query.shape[1]} vs "
                               f"{reference.shape[1]}); compare SAEs trained on one embedder")
    query, reference = unit_rows(query), unit_rows(reference)
    index = np.empty(len(query), dtype=np.int64)
    cosine = np.empty(len(query), dtype=np.float32)
    for lo in range(0, len(query), chunk):
        sims = query[lo:lo + chunk] @ reference.T
        index[lo:lo + chunk] = sims.argmax(axis=1)
        cosine[lo:lo + chunk] = sims[np.arange(len(sims)), index[lo:lo + chunk]]
    return index, cosine


def persistence(cosines: np.ndarray, threshold: float = PERSIST_COSINE) -> dict[str, float]:
    """Summary of best-match cosines: how many features persist above ``threshold``."""
    cosines = np.asarray(cosines, dtype=np.float64)
    persisting = int((cosines >= threshold).sum())
    return {"features": len(cosines), "mean": float(cosines.mean()),
            "median": float(np.median(cosines)), "threshold": threshold,
            "persisting": persisting, "new": len(cosines) - persisting}


def splits(match: np.ndarray, n_reference: int) -> list[list[int]]:
    """Reference feature → the query features whose best match it is (ascending ids)."""
    order = np.argsort(match, kind="stable")
    bounds = np.searchsorted(match[order], np.arange(n_reference + 1))
    return [order[bounds[i]:bounds[i + 1]].tolist() for i in range(n_reference)]


@dataclass
class SplitChain:
    """Splits along SAEs of growing size ``weights[0] → weights[1] → …``."""

    steps: list[list[list[int]]]
    """``steps[s][f]``: features of SAE s+1 matched to feature f of SAE s."""
    direct: list[list[int]]
    """Features of the last SAE matched directly to each feature of the first."""

    def descendants(self, feature: int) -> list[list[int]]:
        """Per level, the features reached from ``feature`` of the first SAE step by step."""
        levels = [[feature]]
        for step in self.steps:
            levels.append(sorted({c for f in levels[-1] for c in step[f]}))
        return levels

    def consistency(self) -> np.ndarray:
        """Per first-SAE feature, Jaccard of the direct vs the step-by-step match in the last
        SAE; NaN where both are empty (nothing to compare)."""
        out = np.full(len(self.direct), np.nan)
        for feature, direct in enumerate(self.direct):
            stepwise, direct_set = set(self.descendants(feature)[-1]), set(direct)
            union = stepwise | direct_set
            if union:
                out[feature] = len(stepwise & direct_set) / len(union)
        return out


def split_chain(weights: Sequence[np.ndarray], chunk: int = 2048) -> SplitChain:
    """Follow splits across ≥ 2 SAEs ordered small → large (≥ 3 for a consistency check)."""
    if len(weights) < 2:
        raise DisentangleError("a split chain needs at least two SAEs; pass sizes small → large")
    steps = [splits(best_match(large, small, chunk)[0], len(small))
             for small, large in pairwise(weights)]
    direct = splits(best_match(weights[-1], weights[0], chunk)[0], len(weights[0]))
    return SplitChain(steps, direct)


def hungarian_match(query: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching maximising total cosine (for re-seeded SAEs of one size).

    Returns, per query row, the assigned reference row (-1 if unassigned when the query is
    larger) and its cosine. Builds the full ``n_query × n_reference`` cosine matrix.
    """
    sims = unit_rows(query) @ unit_rows(reference).T
    rows, cols = linear_sum_assignment(sims, maximize=True)
    assigned = np.full(len(query), -1, dtype=np.int64)
    cosine = np.full(len(query), np.nan, dtype=np.float32)
    assigned[rows], cosine[rows] = cols, sims[rows, cols]
    return assigned, cosine
