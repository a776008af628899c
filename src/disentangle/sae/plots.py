"""Sweep figures: error vs size with fitted laws, dead latents over training, feature density.

All figures read only what runs already store (``metrics.json`` histories, the scaling fit),
use the Agg backend (no display needed) and are written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display needed
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from disentangle.io import atomic_path
from disentangle.sae.scaling import gao_log_loss

History = list[dict[str, Any]]


def _save(figure: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def nmse_vs_n(fit: dict[str, Any], path: Path) -> Path:
    """Final validation NMSE per k against n (log-log), with the per-k power laws (solid)
    and Gao et al.'s joint form (dashed) where it converged."""
    figure, axes = plt.subplots(figsize=(6, 4.2))
    points = fit["points"]
    ks = sorted({p["k"] for p in points})
    grid = np.geomspace(min(p["n"] for p in points), max(p["n"] for p in points), 50)
    for color, k in zip(plt.cm.viridis(np.linspace(0, 0.9, len(ks))), ks, strict=True):
        mine = sorted((p["n"], p["nmse"]) for p in points if p["k"] == k)
        axes.plot(*zip(*mine, strict=True), "o", color=color, label=f"k={k}")
        law = fit["per_k"].get(k) or fit["per_k"].get(str(k))
        if law:
            axes.plot(grid, law["a"]["value"] * grid ** -law["b"]["value"], "-", color=color,
                      label=f"  {law['a']['value']:.3g}·n^-{law['b']['value']:.3f}")
        if "error" not in fit["gao"]:
            params = [fit["gao"][name]["value"] for name in
                      ("alpha", "beta_k", "beta_n", "gamma", "zeta", "eta")]
            nk = np.vstack([grid, np.full_like(grid, k)])
            axes.plot(grid, np.exp(gao_log_loss(nk, *params)), "--", color=color, alpha=0.6)
    axes.set(xscale="log", yscale="log", xlabel="latents n", ylabel="validation NMSE",
             title="Reconstruction error vs dictionary size (dashed: Gao et al. form)")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return _save(figure, path)


def dead_fraction_over_training(histories: dict[str, History], path: Path) -> Path:
    """Dead-latent fraction per epoch per run: solid, latents that never fired on the
    training split during that epoch; dashed, none fired on the (smaller) validation split."""
    figure, axes = plt.subplots(figsize=(7, 4.2))
    colors = plt.cm.tab10(np.arange(len(histories)) % 10)
    for color, (name, history) in zip(colors, histories.items(), strict=True):
        epochs = [r["epoch"] for r in history]
        axes.plot(epochs, [100 * r["train"]["dead_fraction"] for r in history], "o-",
                  color=color, label=name)
        if all(r["val"] for r in history):
            axes.plot(epochs, [100 * r["val"]["dead_fraction"] for r in history], "x--",
                      color=color, alpha=0.7)
    axes.set(xlabel="epoch", ylabel="dead latents (% of n)", ylim=(0, None),
             title="Dead latents per epoch (solid: training split, dashed: validation)")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return _save(figure, path)


def density_histograms(histories: dict[str, History], path: Path) -> Path:
    """log10 feature-density histogram of each run's last validation pass, one panel each
    (the same fixed bins for all, so panels compare)."""
    names = list(histories)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(3.3 * columns, 2.4 * rows),
                                sharex=True, squeeze=False)
    for axes, name in zip(grid.flat, names, strict=False):
        last = histories[name][-1]
        hist = (last["val"] or last["train"])["log10_density_hist"]
        edges, counts = np.array(hist["edges"]), np.array(hist["counts"])
        axes.bar(edges[:-1], counts, width=np.diff(edges), align="edge")
        axes.set_title(name, fontsize=8)
    for axes in grid.flat[len(names):]:
        axes.axis("off")
    for axes in grid[-1]:
        axes.set_xlabel("log10 density")
    figure.suptitle("Feature density (fraction of validation documents where active)")
    return _save(figure, path)


def all_figures(fit: dict[str, Any], histories: dict[str, History], out_dir: Path) -> list[Path]:
    return [nmse_vs_n(fit, out_dir / "nmse_vs_n.png"),
            dead_fraction_over_training(histories, out_dir / "dead_fraction.png"),
            density_histograms(histories, out_dir / "density_histograms.png")]
