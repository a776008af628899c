"""Sparse chunked co-occurrence equals the dense definition on small codes."""

from __future__ import annotations

import numpy as np

from disentangle.codes import SparseCodes
from disentangle.families import (
    clean_mask,
    cooccurrence,
    edge_weights,
    feature_counts,
    normalised_weights,
    restrict,
)


def _codes(seed: int = 1) -> SparseCodes:
    rng = np.random.default_rng(seed)
    indices = np.stack([rng.choice(12, 3, replace=False) for _ in range(50)]).astype(np.int32)
    values = rng.uniform(0, 2, (50, 3)).astype(np.float32)
    values[values < 0.3] = 0  # inactive slots
    return SparseCodes(indices, values, 12)


def _dense(codes: SparseCodes) -> np.ndarray:
    dense = np.zeros((len(codes), codes.n_features), np.float64)
    np.put_along_axis(dense, codes.indices.astype(np.int64), codes.values, axis=1)
    return dense


def test_binary_counts_match_dense_and_chunks_agree():
    codes = _codes()
    active = (_dense(codes) > 0).astype(np.float64)
    expected = active.T @ active
    for chunk in (1, 5, 100):
        assert np.array_equal(cooccurrence(codes, chunk=chunk).toarray(), expected)
        assert np.array_equal(cooccurrence(codes, upper=True, chunk=chunk).toarray(),
                              np.triu(expected))
    assert np.array_equal(feature_counts(codes), np.diag(expected))


def test_activation_variant_is_cosine_of_activation_columns():
    dense = _dense(_codes())
    norms = np.linalg.norm(dense, axis=0)
    unit = dense / np.where(norms > 0, norms, 1)
    got = cooccurrence(_codes(), weighting="activation", chunk=4).toarray()
    assert np.allclose(got, unit.T @ unit, atol=1e-5)


def test_clean_mask_and_restrict():
    mask = clean_mask(np.array([0.1, 0.3, 0.05]), pearson=np.array([0.9, 0.9, np.nan]),
                      f1=np.array([0.85, 0.9, 0.9]))
    assert mask.tolist() == [True, False, False]
    sub, nodes = restrict(cooccurrence(_codes()), np.arange(12) % 3 == 0)
    assert nodes.tolist() == [0, 3, 6, 9] and sub.shape == (4, 4)


def test_edge_weights_of_both_variants(planted):
    codes, _ = planted
    counts = edge_weights(codes, "binary", threshold=0.0).toarray()
    assert np.allclose(counts, normalised_weights(cooccurrence(codes, upper=True),
                                                  feature_counts(codes), 0.0).toarray())
    cosine = edge_weights(codes, "activation", threshold=0.0).toarray()
    dense = codes.to_csr().toarray()
    norms = np.linalg.norm(dense, axis=0)
    expected = np.triu(dense.T @ dense / np.outer(norms, norms).clip(1e-12), k=1)
    assert np.allclose(cosine, expected, atol=1e-5)
    assert cosine.max() <= 1 + 1e-6 and (cosine > 0.1).sum() > 0
