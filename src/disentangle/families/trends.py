"""Feature and family prevalence over arXiv metadata: by year, by category, and what rises.

Prevalence = fraction of a group's documents where the feature (or family) is active. Group
counts come from one sparse product ``Gᵀ A`` (groups × documents times documents × features),
so no dense documents × features matrix is built.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from scipy import sparse

from disentangle.errors import DisentangleError

MIN_SUPPORT = 50
"""Documents a feature must be active in before its trend is ranked (noise guard)."""


def year_groups(years: np.ndarray) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Distinct years (ascending) and the documents × years 0/1 incidence."""
    values, inverse = np.unique(np.asarray(years), return_inverse=True)
    return values, sparse.csr_matrix(
        (np.ones(len(inverse), np.float32), (np.arange(len(inverse)), inverse)),
        shape=(len(inverse), len(values)))


def category_groups(categories: Sequence[Sequence[str]]) -> tuple[list[str], sparse.csr_matrix]:
    """Distinct categories (sorted) and the documents × categories 0/1 incidence; a document
    may sit in several (cross-lists)."""
    names = sorted({c for cats in categories for c in cats})
    column = {name: j for j, name in enumerate(names)}
    rows = [i for i, cats in enumerate(categories) for _ in dict.fromkeys(cats)]
    cols = [column[c] for cats in categories for c in dict.fromkeys(cats)]
    return names, sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                    shape=(len(categories), len(names)))


def prevalence(
    activity: sparse.spmatrix, groups: sparse.csr_matrix
) -> tuple[np.ndarray, np.ndarray]:
    """``[groups, columns]`` fraction of each group's documents where a column is active, and
    the documents per group. ``activity``: ``codes.to_csr()`` or ``family_activations``."""
    if activity.shape[0] != groups.shape[0]:
        raise DisentangleError(f"{activity.shape[0]} documents in the codes but "
                               f"{groups.shape[0]} in the metadata; pass aligned arrays")
    active = sparse.csr_matrix(activity, copy=True)
    active.data = (active.data != 0).astype(np.float32)
    counts = (groups.T @ active).toarray()
    docs = np.asarray(groups.sum(axis=0)).ravel()
    return counts / np.maximum(docs, 1)[:, None], docs


def trends_table(
    activity: sparse.spmatrix, years: np.ndarray, min_support: int = MIN_SUPPORT
) -> pa.Table:
    """Per column: support, mean prevalence, and the least-squares slope of yearly prevalence
    (per year, each year weighted by its documents so sparse years do not swing the fit).
    ``relative_slope`` = slope / mean prevalence, comparable across rare and common features.
    Columns with fewer than ``min_support`` active documents get null slopes."""
    values, groups = year_groups(years)
    prev, docs = prevalence(activity, groups)
    weights = docs / docs.sum()
    x = values.astype(np.float64) - np.average(values, weights=weights)
    mean = weights @ prev
    slope = (weights * x) @ (prev - mean) / max(float(weights @ x**2), 1e-12)
    support = (prev * docs[:, None]).sum(axis=0).round().astype(np.int64)
    enough = support >= min_support
    relative = np.divide(slope, mean, out=np.zeros_like(slope), where=mean > 0)
    return pa.table({
        "column": pa.array(np.arange(prev.shape[1], dtype=np.int32)),
        "support": pa.array(support),
        "mean_prevalence": pa.array(mean),
        "slope": pa.array(slope, mask=~enough),
        "relative_slope": pa.array(relative, mask=~enough),
    })


def top_trends(table: pa.Table, count: int = 10, by: str = "slope") -> tuple[list[int], list[int]]:
    """Column ids of the ``count`` fastest rising and fastest falling (by ``by``)."""
    score = table.column(by).to_numpy(zero_copy_only=False).astype(np.float64)
    ids = table.column("column").to_numpy()
    valid = ~np.isnan(score)
    order = ids[valid][np.argsort(-score[valid], kind="stable")]
    rising = [int(i) for i in order[:count] if score[i] > 0]
    falling = [int(i) for i in order[::-1][:count] if score[i] < 0]
    return rising, falling
