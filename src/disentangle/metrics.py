"""Every metric the project reports, each with its exact definition.

Functions are small and pure so that tests can check them against numbers worked out by hand.
``normalized_mse`` is written with operations numpy arrays and torch tensors share, so the
training loss and the offline evaluation use literally the same formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def normalized_mse(x: Array, x_hat: Array) -> Array:
    """Fraction of variance unexplained: ``Σ‖x − x̂‖² / Σ‖x − mean_batch(x)‖²``.

    Sums run over all rows and coordinates of ``[batch, d]`` inputs; the mean is the batch
    mean of ``x``. 0 is perfect; 1 is what predicting the batch mean achieves. Undefined
    (inf or nan) when every row of ``x`` is identical. Returns a 0-d array or tensor of the
    input's type (differentiable for tensors: it is the SAE's training loss).
    """
    return ((x - x_hat) ** 2).sum(-1).sum() / ((x - x.mean(0)) ** 2).sum(-1).sum()


def fraction_variance_explained(x: Array, x_hat: Array) -> Array:
    """``1 − normalized_mse(x, x_hat)``: the share of the batch's variance the model recovers."""
    return 1 - normalized_mse(x, x_hat)


class ReconstructionAccumulator:
    """Streaming ``normalized_mse`` over a dataset seen in batches (e.g. a validation pass).

    Pools all rows: ``Σ‖x − x̂‖² / Σ‖x − μ‖²`` with ``μ`` the mean over *all* rows seen, via
    ``Σ‖x − μ‖² = Σ‖x‖² − N‖μ‖²``; sums are kept in float64 so the subtraction is safe.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.sse = 0.0
        self.sum_sq = 0.0
        self.sum_x: torch.Tensor | None = None

    def update(self, x: torch.Tensor, x_hat: torch.Tensor) -> None:
        x64 = x.detach().double()
        self.rows += x.shape[0]
        self.sse += float(((x64 - x_hat.detach().double()) ** 2).sum())
        self.sum_sq += float((x64**2).sum())
        batch_sum = x64.sum(0)
        self.sum_x = batch_sum if self.sum_x is None else self.sum_x + batch_sum

    def normalized_mse(self) -> float:
        if self.sum_x is None:
            return float("nan")
        sst = self.sum_sq - float((self.sum_x**2).sum()) / self.rows
        return self.sse / sst if sst > 0 else float("nan")


def l0(values: Array) -> float:
    """Mean number of non-zero latents per row of ``[batch, k]`` sparse values (or dense
    ``[batch, n]`` latents). At most ``k`` for a top-k SAE; lower when ReLU zeroes some."""
    return float((values != 0).sum()) / values.shape[0]


def dead_fraction(fired_counts: Array) -> float:
    """Share of latents that never fired: ``mean(fired_counts == 0)`` over the ``n`` latents."""
    return float((fired_counts == 0).sum()) / fired_counts.shape[0]


def feature_density(counts: np.ndarray, n_docs: int) -> np.ndarray:
    """Per latent, the fraction of documents in which it is active: ``counts / n_docs``."""
    return np.asarray(counts, dtype=np.float64) / n_docs


def log_density_histogram(
    density: np.ndarray, bins: int | Sequence[float] = 24
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of ``log10(density)`` over latents with density > 0, as ``(counts, edges)``.

    Latents with zero density (log10 = −inf) are left out; ``dead_fraction`` reports them.
    ``bins`` is passed to ``np.histogram``: pass fixed edges to compare epochs or models.
    """
    density = np.asarray(density, dtype=np.float64)
    return np.histogram(np.log10(density[density > 0]), bins=bins)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation ``cov(a, b) / (σ_a σ_b)`` of two equal-length vectors.

    Returns 0.0 (not nan) when either input is constant: a constant prediction carries no
    information about the target, and 0 keeps medians over many features defined.
    """
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    denominator = np.sqrt((a**2).sum() * (b**2).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def f1_score(pred: np.ndarray, true: np.ndarray) -> float:
    """F1 of boolean predictions: ``2·TP / (2·TP + FP + FN)``.

    Returns 0.0 when there are no positives in either array (0/0), as scikit-learn does by
    default, so an empty prediction of an empty target never scores as a success.
    """
    pred = np.asarray(pred, dtype=bool)
    true = np.asarray(true, dtype=bool)
    tp = int((pred & true).sum())
    denominator = 2 * tp + int((pred & ~true).sum()) + int((~pred & true).sum())
    return 2 * tp / denominator if denominator else 0.0
