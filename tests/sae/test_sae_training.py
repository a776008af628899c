"""Training behaviour: recovery of a planted dictionary, AuxK, determinism, resumption."""

from pathlib import Path

import numpy as np
import pytest
import torch

from disentangle.errors import DisentangleError
from disentangle.sae import trainer
from disentangle.sae.losses import fast_loss
from disentangle.sae.model import SAEConfig, TopKSAE
from disentangle.sae.trainer import TrainConfig, train_sae
from disentangle.sae.variants import build_sae

PROVENANCE = {"embedder": {"model": "toy", "dim": 32, "normalized": False},
              "corpus_hash": "abc", "input_normalization": "none"}


def _planted(m: int, d: int, k: int, rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x = z·D with unit-norm atoms D [m, d] and k-sparse non-negative codes z."""
    rng = np.random.default_rng(seed)
    atoms = rng.normal(size=(m, d))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    z = np.zeros((rows, m))
    for row in z:
        row[rng.choice(m, k, replace=False)] = rng.uniform(0.5, 1.5, k)
    return (z @ atoms).astype(np.float32), atoms


@pytest.fixture(scope="module")
def planted() -> tuple[np.ndarray, np.ndarray]:
    return _planted(m=32, d=32, k=3, rows=4096)


FAST = TrainConfig(epochs=3, batch_size=256, lr=1e-2)


def test_recovers_planted_dictionary_with_unit_norm_rows(planted, tmp_path: Path) -> None:
    x, atoms = planted
    config = TrainConfig(epochs=12, batch_size=256, lr=1e-2)
    result = train_sae(x, SAEConfig(d=32, n=64, k=3), config, tmp_path, PROVENANCE)
    w_dec = result.sae.W_dec.detach().numpy()
    np.testing.assert_allclose(np.linalg.norm(w_dec, axis=1), 1.0, atol=1e-5)
    best_cosine = (atoms @ w_dec.T).max(axis=1)
    assert (best_cosine >= 0.9).mean() >= 0.9
    assert result.history[-1]["val"]["nmse"] < 0.1
    assert len(result.history) == 12


def test_auxk_revives_latents_that_never_win(monkeypatch, tmp_path: Path) -> None:
    """Half the encoder rows start 50× too short: they never reach the top k on their own."""

    class WeakHalf(TopKSAE):
        def __init__(self, config: SAEConfig, *, seed: int | None = None) -> None:
            super().__init__(config, seed=seed)
            with torch.no_grad():
                self.W_enc[config.n // 2 :] *= 0.02

    monkeypatch.setattr(trainer, "build_sae", WeakHalf)
    x, _ = _planted(m=64, d=32, k=4, rows=2048)
    dead = {}
    for coef in (0.0, 1 / 32):
        config = TrainConfig(epochs=6, batch_size=256, lr=1e-2, aux_coef=coef, dead_steps=4)
        result = train_sae(x, SAEConfig(d=32, n=128, k=4), config, tmp_path / str(coef), PROVENANCE)
        dead[coef] = result.history[-1]["val"]["dead_fraction"]
    assert dead[0.0] >= 0.5
    assert dead[1 / 32] < 0.3


def _weights(result: trainer.TrainResult) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in result.sae.state_dict().items()}


def test_same_seed_gives_identical_weights(planted, tmp_path: Path) -> None:
    x = planted[0][:1024]  # small: these tests compare runs, not quality
    cfg = SAEConfig(d=32, n=64, k=3)
    a = _weights(train_sae(x, cfg, FAST, tmp_path / "a", PROVENANCE))
    b = _weights(train_sae(x, cfg, FAST, tmp_path / "b", PROVENANCE))
    other = _weights(train_sae(x, cfg, TrainConfig(epochs=3, batch_size=256, lr=1e-2, seed=1),
                               tmp_path / "c", PROVENANCE))
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert not torch.equal(a["W_dec"], other["W_dec"])


def test_resume_equals_uninterrupted_and_finished_run_returns(planted, tmp_path: Path) -> None:
    x = planted[0][:1024]  # small: these tests compare runs, not quality
    cfg = SAEConfig(d=32, n=64, k=3)
    full = _weights(train_sae(x, cfg, FAST, tmp_path / "full", PROVENANCE))

    class Interrupt(Exception):
        pass

    def stop_after_first_epoch(event: dict) -> None:
        if event["event"] == "epoch" and event["epoch"] == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_sae(x, cfg, FAST, tmp_path / "cut", PROVENANCE, stop_after_first_epoch)
    events: list[dict] = []
    resumed = train_sae(x, cfg, FAST, tmp_path / "cut", PROVENANCE, events.append)
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [2, 3]
    assert {"epoch", "step", "steps_total", "loss", "nmse"} <= set(events[0])
    assert len(resumed.history) == 3
    for name, value in _weights(resumed).items():
        torch.testing.assert_close(value, full[name], atol=1e-6, rtol=0)

    calls: list[dict] = []
    again = train_sae(x, cfg, FAST, tmp_path / "cut", PROVENANCE, calls.append)
    assert calls == []  # finished: loaded, not retrained
    assert torch.equal(again.sae.W_dec, resumed.sae.W_dec)


def test_other_config_or_provenance_refused(planted, tmp_path: Path) -> None:
    x, _ = planted
    cfg = SAEConfig(d=32, n=64, k=3)
    small = TrainConfig(epochs=1, batch_size=1024, lr=1e-2)
    train_sae(x, cfg, small, tmp_path, PROVENANCE)
    with pytest.raises(DisentangleError, match="use another --name or delete"):
        train_sae(x, cfg, TrainConfig(epochs=1, batch_size=1024, lr=2e-2), tmp_path, PROVENANCE)
    with pytest.raises(DisentangleError, match="different config or provenance"):
        train_sae(x, cfg, small, tmp_path, {**PROVENANCE, "corpus_hash": "other"})
    with pytest.raises(DisentangleError, match="different config"):
        train_sae(x, SAEConfig(d=32, n=64, k=4), small, tmp_path, PROVENANCE)
    train_sae(x, cfg, TrainConfig(epochs=1, batch_size=1024, lr=1e-2, fast=False),
              tmp_path, PROVENANCE)  # execution-only fields may differ


def test_trains_from_read_only_memmap_with_reference_path(planted, tmp_path: Path) -> None:
    x, _ = planted
    path = tmp_path / "emb.npy"
    np.save(path, x)
    memmap = np.load(path, mmap_mode="r")
    config = TrainConfig(epochs=1, batch_size=512, lr=1e-2, fast=False)
    result = train_sae(memmap, SAEConfig(d=32, n=64, k=3), config, tmp_path / "run", PROVENANCE)
    record = result.history[0]
    assert record["train"]["l0"] <= 3
    assert 0 < record["val"]["nmse"] < 1
    assert sum(record["val"]["log10_density_hist"]["counts"]) == round(
        64 * (1 - record["val"]["dead_fraction"]))


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "matryoshka"])
def test_fast_step_gives_the_same_bits_at_any_thread_count(architecture: str) -> None:
    """The trainer picks its CPU thread count by timing (threads.ThreadChooser), so a step
    must not depend on it. Sizes are large enough for torch and BLAS to split their sums."""
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(4 * 512, 256)).astype(np.float32))
    dead = torch.arange(2048) % 3 == 0

    def train(threads_of_step) -> dict[str, torch.Tensor]:
        sae = build_sae(SAEConfig(d=256, n=2048, k=16, architecture=architecture), seed=0)
        sae.init_pre_bias(x)
        optimizer = trainer.make_optimizer(sae, 1e-3)
        for step in range(4):
            torch.set_num_threads(threads_of_step(step))
            out = fast_loss(sae, x[512 * step:512 * (step + 1)], dead, 32, 1 / 32)
            trainer.update_parameters(sae, optimizer, out.loss, 1.0)
        return sae.state_dict()

    threads = torch.get_num_threads()
    try:
        one, two, mixed = train(lambda _: 1), train(lambda _: 2), train(lambda s: 1 + s % 2)
    finally:
        torch.set_num_threads(threads)
    for name in one:
        assert torch.equal(one[name], two[name]), name
        assert torch.equal(one[name], mixed[name]), name
