"""A grid of (n, k) SAEs trained in one pass over the same batches, for scaling-law fits.

Each member is an ordinary run directory (``sweep-n{n}-k{k}``, plus ``-{architecture}`` for
the variants) written by ``train_many``, so a sweep resumes where it stopped, skips finished
members, and its SAEs can be encoded and searched like any other. Members share the split,
the shuffles and every batch read, and one architecture.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from disentangle.errors import DisentangleError
from disentangle.sae.model import SAEConfig
from disentangle.sae.trainer import RunSpec, TrainConfig, TrainResult, train_many

LR_REFERENCE_N = 2**14
"""Dictionary size at which the scaled learning rate equals the base rate."""


def parse_sizes(text: str, d: int) -> list[int]:
    """``"2d,4d,6d"`` (multiples of the embedding dimension) or ``"768,1536"`` → sizes."""
    sizes = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            sizes.append(int(part[:-1]) * d if part.endswith("d") else int(part))
        except ValueError:
            raise DisentangleError(f"cannot read size {part!r}; use integers or multiples "
                                   "of d such as 4d") from None
    if not sizes or min(sizes) <= 0:
        raise DisentangleError(f"no positive sizes in {text!r}")
    return sizes


def scaled_lr(base: float, n: int) -> float:
    """``base / sqrt(n / 2^14)``: larger dictionaries get smaller steps, because each latent
    sees a smaller share of the batch while Adam's step size per parameter stays the same.
    This is sparsify's rule; it lets one base rate serve a whole sweep over n."""
    return base / math.sqrt(n / LR_REFERENCE_N)


def run_name(sae: SAEConfig) -> str:
    return f"sweep-{sae.name()}"


@dataclass(frozen=True)
class Member:
    """One grid point and the directory its run lives in."""

    sae: SAEConfig
    name: str
    config: TrainConfig

    @property
    def n(self) -> int:
        return self.sae.n

    @property
    def k(self) -> int:
        return self.sae.k


def plan(d: int, ns: list[int], ks: list[int], base: TrainConfig, scale_lr: bool = False, *,
         architecture: str = "topk", prefixes: tuple[int, ...] | None = None) -> list[Member]:
    """Every valid (n, k) of the grid (k < n), each with its own learning rate if scaled.
    Matryoshka ``prefixes`` are shared by all members (each adds its own ``n``); without
    them each member takes the default ``n/16, n/4, n``."""
    members = []
    for n in ns:
        for k in ks:
            if k >= n:
                continue
            config = replace(base, lr=scaled_lr(base.lr, n)) if scale_lr else base
            sae = SAEConfig(d=d, n=n, k=k, architecture=architecture, prefixes=prefixes)
            members.append(Member(sae, run_name(sae), config))
    if not members:
        raise DisentangleError("the grid is empty: every k must be smaller than n")
    return members


def run_sweep(
    embeddings: np.ndarray,
    members: list[Member],
    run_dir: Callable[[str], Path],
    provenance: dict,
    on_progress: Callable[[dict], None] | None = None,
) -> list[TrainResult]:
    """Train all members in one pass (finished ones are loaded, interrupted ones resume)."""
    specs = [RunSpec(m.sae, m.config, run_dir(m.name)) for m in members]
    return train_many(embeddings, specs, provenance, on_progress)


def summary(results: list[TrainResult]) -> list[dict[str, Any]]:
    """One row per member: final validation NMSE, dead fraction and epochs trained."""
    rows = []
    for result in results:
        last = result.history[-1]
        val = last["val"] or last["train"]
        rows.append({"name": result.out_dir.name, "n": result.sae.config.n,
                     "k": result.sae.config.k, "epochs": last["epoch"], "nmse": val["nmse"],
                     "dead_fraction": val["dead_fraction"]})
    return rows
