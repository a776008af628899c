"""Each metric against numbers worked out by hand."""

import math

import numpy as np
import pytest
import torch

from disentangle.metrics import (
    ReconstructionAccumulator,
    dead_fraction,
    f1_score,
    feature_density,
    fraction_variance_explained,
    l0,
    log_density_histogram,
    normalized_mse,
    pearson,
)

X = np.array([[1.0, 2.0], [3.0, 4.0]])  # batch mean (2, 3); Σ‖x − mean‖² = 4 × 1 = 4
X_HAT = np.array([[1.0, 3.0], [3.0, 2.0]])  # Σ‖x − x̂‖² = 1 + 4 = 5


def test_normalized_mse_by_hand() -> None:
    assert normalized_mse(X, X_HAT) == pytest.approx(5 / 4)
    assert fraction_variance_explained(X, X_HAT) == pytest.approx(-1 / 4)
    assert normalized_mse(X, X) == 0.0
    assert normalized_mse(X, np.array([[2.0, 3.0], [2.0, 3.0]])) == pytest.approx(1.0)


def test_normalized_mse_torch_matches_numpy_and_is_differentiable() -> None:
    x_hat = torch.tensor(X_HAT, requires_grad=True)
    value = normalized_mse(torch.tensor(X), x_hat)
    value.backward()
    assert float(value.detach()) == pytest.approx(5 / 4)
    # ∂/∂x̂ = −2(x − x̂)/4
    assert torch.allclose(x_hat.grad, torch.tensor([[0.0, 0.5], [0.0, -1.0]], dtype=torch.float64))


def test_accumulator_pools_batches() -> None:
    acc = ReconstructionAccumulator()
    acc.update(torch.tensor(X[:1]), torch.tensor(X_HAT[:1]))
    acc.update(torch.tensor(X[1:]), torch.tensor(X_HAT[1:]))
    assert acc.normalized_mse() == pytest.approx(5 / 4)
    assert math.isnan(ReconstructionAccumulator().normalized_mse())


def test_l0_dead_fraction_density() -> None:
    assert l0(np.array([[0.5, 0.0, 0.2], [0.0, 0.0, 0.0]])) == pytest.approx(1.0)
    assert l0(torch.tensor([[1.0, 2.0], [3.0, 0.0]])) == pytest.approx(1.5)
    assert dead_fraction(np.array([0, 3, 0, 1])) == pytest.approx(0.5)
    assert dead_fraction(torch.tensor([1, 1])) == 0.0
    np.testing.assert_allclose(feature_density(np.array([0, 5, 10]), 10), [0.0, 0.5, 1.0])


def test_log_density_histogram_drops_zero_density() -> None:
    counts, edges = log_density_histogram(np.array([0.0, 0.001, 0.01, 0.1, 1.0]), [-3.5, -1.5, 0.5])
    np.testing.assert_array_equal(counts, [2, 2])  # 1e-3, 1e-2 | 1e-1, 1; zero density left out
    np.testing.assert_array_equal(edges, [-3.5, -1.5, 0.5])


def test_pearson_by_hand() -> None:
    assert pearson(np.array([1, 2, 3]), np.array([2, 4, 6])) == pytest.approx(1.0)
    assert pearson(np.array([1, 2, 3]), np.array([3, 2, 1])) == pytest.approx(-1.0)
    # a − ā = (−1, 0, 1), b − b̄ = (−1/3, 2/3, −1/3): cov 0 → r = 0
    assert pearson(np.array([1, 2, 3]), np.array([1, 2, 1])) == pytest.approx(0.0)
    # a − ā = (−1.5, −.5, .5, 1.5), b − b̄ = (−1, −1, 1, 1): 4 / sqrt(5 · 4)
    expected = 4 / math.sqrt(20)
    assert pearson(np.array([1, 2, 3, 4]), np.array([0, 0, 2, 2])) == pytest.approx(expected)
    assert pearson(np.array([1, 1, 1]), np.array([1, 2, 3])) == 0.0  # constant input → 0


def test_f1_by_hand() -> None:
    pred = np.array([1, 1, 0, 0, 1], dtype=bool)
    true = np.array([1, 0, 1, 0, 1], dtype=bool)
    assert f1_score(pred, true) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # TP 2, FP 1, FN 1
    assert f1_score(true, true) == 1.0
    assert f1_score(~true, true) == 0.0
    assert f1_score(np.zeros(3, bool), np.zeros(3, bool)) == 0.0
