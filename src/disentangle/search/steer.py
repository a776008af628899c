"""Turn an edited sparse code back into a query vector.

Three modes, all ending in a unit vector for cosine ranking:

- ``residual`` (default): ``x + W_decᵀ(z_edited − z_original)``. Only the *change* is decoded,
  so everything the SAE fails to reconstruct (the residual ``x − x̂``) is kept and an unedited
  query is returned untouched, bit for bit. The paper's web app decodes the edited code alone
  and so moves even an unedited query.
- ``reconstruction``: ``W_decᵀ z_edited + b_pre``, the paper's web-app behaviour, kept for
  comparison.
- ``clamp``: edits act on the *projection* ``p_f = ⟨x − b_pre, d_f⟩`` of the query onto each
  edited feature's decoder direction instead of on its activation, and the query moves by the
  smallest change that gives every edited projection its target (a least-squares solve over
  the edited directions). ``remove`` therefore projects the direction out entirely, which
  also removes the part of it the top-k code missed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from disentangle.errors import DisentangleError
from disentangle.search.edits import ResolvedEdit

SteerMode = Literal["residual", "reconstruction", "clamp"]
MODES: tuple[str, ...] = ("residual", "reconstruction", "clamp")


@dataclass(frozen=True)
class Steered:
    vector: np.ndarray
    """Unit-norm float32 ``[d]`` query to rank with."""
    drift: float
    """Cosine between the steered vector and the original query embedding (1 = unmoved)."""
    code: dict[int, float]
    """The edited code (activations; in clamp mode, the edited features' target projections)."""


def edit_values(values: Mapping[int, float], edits: Sequence[ResolvedEdit],
                typical: np.ndarray, floor: float | None = 0.0) -> dict[int, float]:
    """Apply edits in order to a ``feature -> value`` map; values at or below ``floor`` drop."""
    out = dict(values)
    for edit in edits:
        value = edit.apply(out.get(edit.feature, 0.0), float(typical[edit.feature]))
        if floor is not None and value <= floor:
            out.pop(edit.feature, None)
        else:
            out[edit.feature] = value
    return out


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise DisentangleError("the edits cancel the whole query; lower fewer features")
    return (vector / norm).astype(np.float32)


def steer(
    x: np.ndarray,
    code: Mapping[int, float],
    edits: Sequence[ResolvedEdit],
    decoder: np.ndarray,
    b_pre: np.ndarray,
    typical: np.ndarray,
    mode: SteerMode = "residual",
) -> Steered:
    """Steer query embedding ``x`` (unit ``[d]``) whose SAE code is ``code``.

    ``decoder`` is ``W_dec`` ``[n, d]`` with unit rows; ``typical`` ``[n]`` is each feature's
    typical activation, the unit of ``raise`` edits.
    """
    x = np.asarray(x, dtype=np.float32)
    if mode == "clamp":
        return _clamp(x, edits, decoder, b_pre, typical)
    if mode not in MODES:
        raise DisentangleError(f"unknown steering mode {mode!r}; use {', '.join(MODES)}")
    edited = edit_values(code, edits, typical)
    if mode == "reconstruction":
        features = np.fromiter(edited, dtype=np.int64, count=len(edited))
        values = np.fromiter(edited.values(), dtype=np.float32, count=len(edited))
        vector = _unit(values @ decoder[features] + b_pre)
    else:
        changed = [f for f in set(edited) | set(code) if edited.get(f, 0.0) != code.get(f, 0.0)]
        if not changed:
            return Steered(x, 1.0, edited)
        delta = np.array([edited.get(f, 0.0) - code.get(f, 0.0) for f in changed], np.float32)
        vector = _unit(x + delta @ decoder[changed])
    return Steered(vector, _cosine(vector, x), edited)


def _clamp(x: np.ndarray, edits: Sequence[ResolvedEdit], decoder: np.ndarray,
           b_pre: np.ndarray, typical: np.ndarray) -> Steered:
    if not edits:
        return Steered(x, 1.0, {})
    features = sorted({edit.feature for edit in edits})
    directions = decoder[features].astype(np.float64)
    current = directions @ (x - b_pre).astype(np.float64)
    targets = edit_values(dict(zip(features, current.tolist(), strict=True)), edits, typical,
                          floor=None)
    change = np.array([targets[f] for f in features]) - current
    # Smallest ‖Δ‖ with D Δ = change: Δ = Dᵀ (D Dᵀ)⁺ change.
    coefficients = np.linalg.lstsq(directions @ directions.T, change, rcond=None)[0]
    vector = _unit((x + coefficients @ directions).astype(np.float32))
    return Steered(vector, _cosine(vector, x), targets)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
