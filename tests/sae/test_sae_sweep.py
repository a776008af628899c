"""One-pass multi-model training, sweep resumability, early stopping and the LR rule."""

from pathlib import Path

import numpy as np
import pytest
import torch

from disentangle.errors import DisentangleError
from disentangle.sae import trainer
from disentangle.sae.model import SAEConfig
from disentangle.sae.sweep import parse_sizes, plan, run_sweep, scaled_lr, summary
from disentangle.sae.trainer import RunSpec, TrainConfig, train_many, train_sae

PROVENANCE = {"embedder": {"model": "toy", "dim": 16, "normalized": False},
              "corpus_hash": "abc", "input_normalization": "none"}
CONFIG = TrainConfig(epochs=2, batch_size=128, lr=1e-2, dead_steps=3)


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((600, 16)).astype(np.float32)


def test_one_pass_equals_separate_training(x: np.ndarray, tmp_path: Path) -> None:
    configs = [SAEConfig(d=16, n=32, k=4), SAEConfig(d=16, n=48, k=2)]
    together = train_many(x, [RunSpec(c, CONFIG, tmp_path / f"many{i}")
                              for i, c in enumerate(configs)], PROVENANCE)
    for i, config in enumerate(configs):
        alone = train_sae(x, config, CONFIG, tmp_path / f"one{i}", PROVENANCE)
        for name, weight in alone.sae.state_dict().items():
            torch.testing.assert_close(together[i].sae.state_dict()[name], weight, rtol=0,
                                       atol=0, msg=name)
        assert together[i].history == alone.history


def test_members_must_share_the_batch_schedule(x: np.ndarray, tmp_path: Path) -> None:
    config = SAEConfig(d=16, n=32, k=4)
    with pytest.raises(DisentangleError, match="share seed"):
        train_many(x, [RunSpec(config, CONFIG, tmp_path / "a"),
                       RunSpec(config, TrainConfig(seed=1), tmp_path / "b")], PROVENANCE)


def test_sweep_skips_finished_members_and_trains_only_new_ones(
        x: np.ndarray, tmp_path: Path, monkeypatch) -> None:
    first = plan(16, [32], [2, 4], CONFIG)
    done = run_sweep(x, first, lambda name: tmp_path / name, PROVENANCE)
    trained: list[str] = []
    original = trainer._Run.train_batch

    def counting(self, batch):
        trained.append(self.out_dir.name)
        return original(self, batch)

    monkeypatch.setattr(trainer._Run, "train_batch", counting)
    again = run_sweep(x, first + plan(16, [48], [4], CONFIG), lambda name: tmp_path / name,
                      PROVENANCE)
    assert set(trained) == {"sweep-n48-k4"}
    for before, after in zip(done, again, strict=False):
        torch.testing.assert_close(after.sae.W_dec, before.sae.W_dec)
    assert [r["name"] for r in summary(again)] == ["sweep-n32-k2", "sweep-n32-k4",
                                                   "sweep-n48-k4"]


def test_early_stopping_ends_a_run_that_stops_improving(
        x: np.ndarray, tmp_path: Path, monkeypatch) -> None:
    """Validation NMSE 0.5, 0.4, 0.45, 0.41, ...: with patience 2 the run stops after
    epoch 4, the second epoch in a row without beating 0.4."""
    scripted = iter([0.5, 0.4, 0.45, 0.41, 0.3, 0.2])
    monkeypatch.setattr(trainer, "_evaluate", lambda *_: {"nmse": next(scripted)})
    config = TrainConfig(epochs=6, batch_size=128, patience=2)
    result = train_sae(x, SAEConfig(d=16, n=32, k=4), config, tmp_path, PROVENANCE)
    assert [r["val"]["nmse"] for r in result.history] == [0.5, 0.4, 0.45, 0.41]
    assert (tmp_path / "model.safetensors").exists()


def test_lr_rule_and_size_parsing() -> None:
    assert scaled_lr(2e-4, 2**14) == pytest.approx(2e-4)
    assert scaled_lr(2e-4, 4 * 2**14) == pytest.approx(1e-4)
    assert parse_sizes("2d, 4d,1000", 384) == [768, 1536, 1000]
    members = plan(384, [768, 3072], [16, 1000], TrainConfig(lr=1e-4), scale_lr=True)
    assert [(m.n, m.k) for m in members] == [(768, 16), (3072, 16), (3072, 1000)]  # k<n only
    assert members[0].config.lr == pytest.approx(1e-4 * (2**14 / 768) ** 0.5)
    with pytest.raises(DisentangleError):
        parse_sizes("big", 384)


def test_plan_names_variant_members_and_shares_their_prefixes() -> None:
    assert plan(16, [32], [4], CONFIG)[0].name == "sweep-n32-k4"
    members = plan(16, [32, 64], [4], CONFIG, architecture="matryoshka", prefixes=(8,))
    assert [m.name for m in members] == ["sweep-n32-k4-matryoshka", "sweep-n64-k4-matryoshka"]
    assert [m.sae.prefixes for m in members] == [(8, 32), (8, 64)]
    with pytest.raises(DisentangleError, match="increase strictly"):
        plan(16, [32, 64], [4], CONFIG, architecture="matryoshka", prefixes=(48,))
