"""How often a feature is active among result rows: the steering tests' measure."""

from __future__ import annotations

import numpy as np

from disentangle.codes import SparseCodes


def active(codes: SparseCodes, rows: list[int], feature: int) -> float:
    """Fraction of ``rows`` whose code has ``feature`` active."""
    return float(np.mean([feature in codes.indices[r][codes.values[r] > 0] for r in rows]))
