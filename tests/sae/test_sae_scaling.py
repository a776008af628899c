"""Scaling fits recover coefficients planted in synthetic grids."""

import numpy as np
import pytest

from disentangle.sae.scaling import fit_all, gao_log_loss

NS = [768, 1536, 3072, 6144, 12288]
KS = [16, 32, 64, 128]


def _rows(loss) -> list[dict]:
    return [{"n": n, "k": k, "nmse": float(loss(n, k))} for n in NS for k in KS]


def test_power_laws_recover_planted_exponents() -> None:
    noise = np.random.default_rng(0)
    fit = fit_all(_rows(lambda n, k: 1.73 * n**-0.133 * k**-0.349
                        * np.exp(noise.normal(0, 0.002))))
    joint = fit["joint"]
    assert joint["c"]["value"] == pytest.approx(1.73, rel=0.05)
    assert joint["beta_n"]["value"] == pytest.approx(0.133, abs=0.005)
    assert joint["beta_k"]["value"] == pytest.approx(0.349, abs=0.005)
    assert joint["r2_log"] > 0.99 and 0 < joint["beta_n"]["se"] < 0.01
    for k, law in fit["per_k"].items():
        assert law["b"]["value"] == pytest.approx(0.133, abs=0.01)
        assert law["a"]["value"] == pytest.approx(1.73 * k**-0.349, rel=0.05)


def test_gao_form_recovers_planted_parameters() -> None:
    planted = (0.5, -0.3, -0.2, -0.01, -3.5, -0.2)

    def loss(n, k):
        return np.exp(gao_log_loss(np.array([[n], [k]], dtype=float), *planted))[0]

    gao = fit_all(_rows(loss))["gao"]
    assert "error" not in gao
    assert gao["rmse_log"] < 1e-4
    got = [gao[name]["value"] for name in ("alpha", "beta_k", "beta_n", "gamma", "zeta", "eta")]
    np.testing.assert_allclose(got, planted, atol=0.05)


def test_gao_needs_more_points_than_parameters() -> None:
    rows = [{"n": n, "k": 16, "nmse": 0.3} for n in NS]
    assert "error" in fit_all(rows)["gao"]
