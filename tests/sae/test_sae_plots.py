"""Sweep figures are written as PNG files from stored histories and a fit."""

from pathlib import Path

import numpy as np

from disentangle.sae.plots import all_figures
from disentangle.sae.scaling import fit_all


def _history(dead: list[float]) -> list[dict]:
    hist = {"counts": [0, 3, 10, 5], "edges": list(np.linspace(-4, 0, 5))}
    return [{"epoch": i + 1, "train": {"dead_fraction": f},
             "val": {"dead_fraction": f, "log10_density_hist": hist}} for i, f in enumerate(dead)]


def test_figures_are_written(tmp_path: Path) -> None:
    rows = [{"n": n, "k": k, "nmse": 0.5 * n**-0.1 * k**-0.3 + 0.01 * (n % 7)}
            for n in (768, 1536, 3072) for k in (16, 32, 64)]
    histories = {"sweep-n768-k16": _history([0.5, 0.2]), "sweep-n1536-k16": _history([0.4, 0.1])}
    paths = all_figures(fit_all(rows), histories, tmp_path / "sweeps")
    assert [p.name for p in paths] == ["nmse_vs_n.png", "dead_fraction.png",
                                       "density_histograms.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert not list((tmp_path / "sweeps").glob(".*tmp"))
