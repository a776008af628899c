"""What a features table says overall: score distributions, medians, the clean fraction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.io import atomic_path

SCORES = ("pearson", "f1", "pearson_balanced", "f1_balanced")


def summarize(table: pa.Table) -> dict[str, Any]:
    """Counts, medians of every score (nan-aware), fraction clean, failure counts."""
    summary: dict[str, Any] = {
        "features": table.num_rows,
        "backends": sorted(set(table.column("backend").to_pylist())),
        "clean": int(np.sum(_column(table, "clean"))),
        "fraction_clean": float(np.mean(_column(table, "clean"))) if table.num_rows else 0.0,
        "clean_strict": int(np.sum(_column(table, "clean_strict"))),
        "interpretable": int(np.sum(_column(table, "interpretable"))),
        "generic": int(np.sum(_column(table, "generic"))),
        "mixed": int(np.sum(_column(table, "mixed"))),
        "lexical": int(np.sum(_column(table, "lexical"))),
        "duplicates": int(np.sum(_column(table, "duplicate_of") >= 0)),
        "label_failures": int(np.sum(_column(table, "label_failed"))),
        "prediction_failures": int(np.sum(_column(table, "prediction_failures"))),
        "median_n_scored": float(np.median(_column(table, "n_scored"))) if table.num_rows else 0.0,
    }
    for name in SCORES:
        values = _column(table, name).astype(np.float64)
        summary[f"median_{name}"] = float(np.nanmedian(values)) if np.isfinite(values).any() \
            else float("nan")
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    return "\n".join([
        f"features labelled:   {summary['features']} ({', '.join(summary['backends'])})",
        f"interpretable:       {summary['interpretable']} (the paper's clean, on its 3+3 "
        "design, with a shared topic)",
        f"clean:               {summary['clean']} ({summary['fraction_clean']:.1%}): those "
        f"whose label fits their strongest documents; {summary['clean_strict']} on the "
        "realistic design",
        f"median Pearson:      {summary['median_pearson']:.3f} on ~"
        f"{summary['median_n_scored']:.0f} held-out docs incl. hard negatives "
        f"(paper's 3+3 design: {summary['median_pearson_balanced']:.3f})",
        f"median F1:           {summary['median_f1']:.3f} "
        f"(paper's 3+3 design: {summary['median_f1_balanced']:.3f})",
        f"generic / duplicate: {summary['generic']} / {summary['duplicates']}",
        f"mixed / lexical:     {summary['mixed']} / {summary['lexical']} (no shared topic; "
        "a shared word only)",
        f"parse failures:      {summary['label_failures']} labels, "
        f"{summary['prediction_failures']} predictions",
    ])


def plot_scores(table: pa.Table, path: str | Path) -> None:
    """Histograms of the four scores, saved atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, len(SCORES), figsize=(4 * len(SCORES), 3.2))
    for axis, name in zip(axes, SCORES, strict=True):
        values = _column(table, name).astype(np.float64)
        values = values[np.isfinite(values)]
        axis.hist(values, bins=np.linspace(-0.5 if "pearson" in name else 0, 1, 31))
        axis.set_title(f"{name} (median {np.median(values) if len(values) else np.nan:.2f})")
        axis.set_xlabel(name)
    axes[0].set_ylabel("features")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)
