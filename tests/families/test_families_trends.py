"""Trends find a planted rising feature; prevalence by category is exact."""

from __future__ import annotations

import numpy as np

from disentangle.codes import SparseCodes
from disentangle.families import category_groups, prevalence, top_trends, trends_table


def _codes(seed: int = 0) -> tuple[SparseCodes, np.ndarray]:
    rng = np.random.default_rng(seed)
    years = np.repeat(np.arange(2000, 2020), 200)
    indices = rng.integers(1, 10, size=(len(years), 2)).astype(np.int32)
    rising = rng.random(len(years)) < 0.02 + 0.03 * (years - 2000)
    indices[rising, 0] = 0
    values = np.ones_like(indices, dtype=np.float32)
    values[indices[:, 0] == indices[:, 1], 1] = 0
    return SparseCodes(indices, values, 10), years


def test_planted_rising_feature_is_top():
    codes, years = _codes()
    table = trends_table(codes.to_csr(), years, min_support=50)
    rising, falling = top_trends(table, count=3)
    assert rising[0] == 0
    assert 0 not in falling
    rising_rel, _ = top_trends(table, count=1, by="relative_slope")
    assert rising_rel == [0]


def test_min_support_nulls_rare_features():
    codes, years = _codes()
    table = trends_table(codes.to_csr(), years, min_support=10**6)
    assert table.column("slope").null_count == codes.n_features
    assert top_trends(table) == ([], [])


def test_prevalence_by_category():
    codes = SparseCodes(np.array([[0], [1], [0]], np.int32), np.ones((3, 1), np.float32), 2)
    names, groups = category_groups([["astro-ph.GA"], ["astro-ph.GA", "cs.LG"], ["cs.LG"]])
    prev, docs = prevalence(codes.to_csr(), groups)
    assert names == ["astro-ph.GA", "cs.LG"] and docs.tolist() == [2, 2]
    assert prev.tolist() == [[0.5, 0.5], [0.5, 0.5]]
