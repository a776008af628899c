"""Figures for families, matching and trends: Agg canvas (no display, no pyplot global state),
each PNG written atomically."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from disentangle.families.matching import SplitChain
from disentangle.io import atomic_path


def _save(figure: Figure, path: str | os.PathLike[str]) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)


def plot_match_histograms(
    cosines: Mapping[str, np.ndarray], path: str | os.PathLike[str], threshold: float = 0.7
) -> None:
    """Histogram of best-match cosines, one curve per SAE pair (e.g. ``"3072→6144"``)."""
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    bins = np.linspace(-0.2, 1.0, 61)
    for name, values in cosines.items():
        axes.hist(values, bins=bins, histtype="step", linewidth=1.5,
                  label=f"{name} (mean {np.mean(values):.2f})")
    axes.axvline(threshold, color="grey", linestyle=":", label=f"persist ≥ {threshold}")
    axes.set_xlabel("best-match decoder cosine")
    axes.set_ylabel("features")
    axes.legend(fontsize=8)
    _save(figure, path)


def plot_split_tree(
    chain: SplitChain,
    feature: int,
    path: str | os.PathLike[str],
    labels: Sequence[Sequence[str]] | None = None,
    names: Sequence[str] | None = None,
    max_per_level: int = 10,
) -> None:
    """How one feature of the smallest SAE splits across the chain: one row per SAE, edges
    from each feature to the features matched to it. ``labels[s][f]`` names feature f of SAE s."""
    levels = [level[:max_per_level] for level in chain.descendants(feature)]
    figure = Figure(figsize=(max(6, 1.8 * max(len(lv) for lv in levels)), 1.6 * len(levels)))
    axes = figure.add_subplot()
    position: dict[tuple[int, int], tuple[float, float]] = {}
    for depth, level in enumerate(levels):
        for slot, node in enumerate(level):
            position[depth, node] = ((slot + 0.5) / len(level), -depth)
    for depth, level in enumerate(levels[:-1]):
        for node in level:
            for child in chain.steps[depth][node]:
                if (depth + 1, child) in position:
                    (x0, y0), (x1, y1) = position[depth, node], position[depth + 1, child]
                    axes.plot([x0, x1], [y0, y1], color="lightgrey", zorder=1)
    for (depth, node), (x, y) in position.items():
        text = labels[depth][node] if labels is not None else f"#{node}"
        axes.text(x, y, textwrap.fill(text, 18), ha="center", va="center", fontsize=7,
                  bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "steelblue"})
    axes.set_yticks([-d for d in range(len(levels))],
                    list(names) if names is not None else [f"SAE {d}" for d in range(len(levels))])
    axes.set_xticks([])
    axes.set_xlim(0, 1)
    axes.set_ylim(-len(levels) + 0.5, 0.5)
    _save(figure, path)


def plot_trends(
    years: np.ndarray,
    prevalence: np.ndarray,
    panels: Mapping[str, Sequence[int]],
    path: str | os.PathLike[str],
    labels: Sequence[str] | None = None,
) -> None:
    """Yearly prevalence (``[years, columns]``, from ``trends.prevalence``), one panel per
    group of columns (e.g. rising, falling) so a dozen curves stay readable."""
    figure = Figure(figsize=(10, 3.2 * len(panels)))
    for number, (title, columns) in enumerate(panels.items()):
        axes = figure.add_subplot(len(panels), 1, number + 1)
        for column in columns:
            name = labels[column] if labels is not None else f"#{column}"
            axes.plot(years, 100 * prevalence[:, column], marker="o", markersize=3,
                      label=_shorten(f"#{column} {name}" if labels is not None else name))
        axes.set_title(title, fontsize=10, loc="left")
        axes.set_xlabel("year")
        axes.set_ylabel("% of documents active")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    _save(figure, path)


def plot_category_prevalence(
    prevalence: np.ndarray,
    categories: Sequence[str],
    columns: Sequence[int],
    path: str | os.PathLike[str],
    labels: Sequence[str] | None = None,
) -> None:
    """Heat map of prevalence (``[categories, columns]``) for chosen columns: which features
    belong to which arXiv category at a glance."""
    values = 100 * prevalence[:, list(columns)].T
    figure = Figure(figsize=(1.0 + 0.55 * len(categories), 1.2 + 0.3 * len(columns)))
    axes = figure.add_subplot()
    # square-root colour scale: one dominant cell must not flatten all the others
    image = axes.imshow(values, aspect="auto", cmap="viridis", norm=PowerNorm(0.5))
    axes.set_xticks(range(len(categories)), list(categories), rotation=60, ha="right",
                    fontsize=7)
    names = [_shorten(f"#{c} {labels[c]}") if labels is not None else f"#{c}" for c in columns]
    axes.set_yticks(range(len(columns)), names, fontsize=7)
    figure.colorbar(image, ax=axes, label="% of category's documents active")
    _save(figure, path)


def _shorten(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
