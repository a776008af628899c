"""Scaling laws of reconstruction error in dictionary size n and sparsity k.

Three forms, all fitted in log space (errors span a decade, so relative misfit is what
matters): per-k power laws ``L = a·n^(−b)`` and the joint ``L = c·n^(−β_n)·k^(−β_k)`` by
ordinary least squares, and Gao et al.'s (2024) ``L = exp(α + β_k log k + β_n log n +
γ log k log n) + exp(ζ + η log k)`` (an irreducible term per k) by ``scipy.optimize.curve_fit``.
Uncertainties are standard errors from the fit's covariance (OLS or curve_fit's ``pcov``);
with few grid points they are wide, and zero-dof fits report none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import curve_fit

GAO_PARAMS = ("alpha", "beta_k", "beta_n", "gamma", "zeta", "eta")


def _ols(design: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Coefficients and their standard errors (None without residual degrees of freedom)."""
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    dof = len(y) - design.shape[1]
    if dof <= 0:
        return coef, None
    sigma2 = float(((y - design @ coef) ** 2).sum()) / dof
    cov = sigma2 * np.linalg.pinv(design.T @ design)
    return coef, np.sqrt(np.clip(np.diag(cov), 0, None))


def _quality(log_y: np.ndarray, log_fit: np.ndarray) -> dict[str, float]:
    residual = log_y - log_fit
    total = float(((log_y - log_y.mean()) ** 2).sum())
    r2 = 1 - float((residual**2).sum()) / total if total > 0 else float("nan")
    return {"r2_log": r2, "rmse_log": float(np.sqrt((residual**2).mean())),
            "points": len(log_y)}


def _with_se(names: tuple[str, ...], values: np.ndarray, se: np.ndarray | None) -> dict:
    return {name: {"value": float(v), "se": None if se is None else float(s)}
            for name, v, s in zip(names, values, se if se is not None else values, strict=True)}


def fit_per_k(n: np.ndarray, k: np.ndarray, loss: np.ndarray) -> dict[int, dict[str, Any]]:
    """``L = a·n^(−b)`` for each k with at least two sizes."""
    fits = {}
    for k_value in np.unique(k):
        mask = k == k_value
        if mask.sum() < 2:
            continue
        design = np.column_stack([np.ones(mask.sum()), -np.log(n[mask])])
        coef, se = _ols(design, np.log(loss[mask]))
        params = _with_se(("log_a", "b"), coef, se)
        params["a"] = {"value": float(np.exp(coef[0])),
                       "se": None if se is None else float(np.exp(coef[0]) * se[0])}
        fits[int(k_value)] = {**params, **_quality(np.log(loss[mask]), design @ coef)}
    return fits


def fit_joint(n: np.ndarray, k: np.ndarray, loss: np.ndarray) -> dict[str, Any]:
    """``L = c·n^(−β_n)·k^(−β_k)``."""
    design = np.column_stack([np.ones(len(n)), -np.log(n), -np.log(k)])
    coef, se = _ols(design, np.log(loss))
    params = _with_se(("log_c", "beta_n", "beta_k"), coef, se)
    params["c"] = {"value": float(np.exp(coef[0])),
                   "se": None if se is None else float(np.exp(coef[0]) * se[0])}
    return {**params, **_quality(np.log(loss), design @ coef)}


def gao_log_loss(nk: np.ndarray, alpha: float, beta_k: float, beta_n: float, gamma: float,
                 zeta: float, eta: float) -> np.ndarray:
    """log of Gao et al.'s ``L(n, k)``; ``nk`` is ``[2, points]`` of (n, k)."""
    log_n, log_k = np.log(nk[0]), np.log(nk[1])
    return np.logaddexp(alpha + beta_k * log_k + beta_n * log_n + gamma * log_k * log_n,
                        zeta + eta * log_k)  # log(e^a + e^b) without overflow


def fit_gao(n: np.ndarray, k: np.ndarray, loss: np.ndarray) -> dict[str, Any]:
    """Gao et al.'s form, started from the joint power law with a small irreducible term."""
    if len(n) <= len(GAO_PARAMS):
        return {"error": f"needs more than {len(GAO_PARAMS)} grid points, got {len(n)}"}
    joint = fit_joint(n, k, loss)
    start = [joint["log_c"]["value"], -joint["beta_k"]["value"], -joint["beta_n"]["value"],
             0.0, float(np.log(loss.min())) - 2.0, 0.0]
    nk = np.vstack([n, k]).astype(float)
    try:
        params, cov = curve_fit(gao_log_loss, nk, np.log(loss), p0=start, maxfev=20_000)
    except (RuntimeError, ValueError) as error:
        return {"error": str(error)}
    se = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else None
    return {**_with_se(GAO_PARAMS, params, se),
            **_quality(np.log(loss), gao_log_loss(nk, *params))}


def fit_all(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """All three fits from sweep summary rows (``n``, ``k``, ``nmse``)."""
    n = np.array([r["n"] for r in rows], dtype=float)
    k = np.array([r["k"] for r in rows], dtype=float)
    loss = np.array([r["nmse"] for r in rows], dtype=float)
    return {"points": rows, "per_k": fit_per_k(n, k, loss), "joint": fit_joint(n, k, loss),
            "gao": fit_gao(n, k, loss)}
