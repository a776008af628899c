"""Training loop for the top-k SAE: the paper's recipe, resumable and deterministic.

Recipe (O'Neill et al. 2024, after Gao et al. 2024): b_pre = coordinate-wise median of a
sample; Adam; loss = NMSE + aux_coef·AuxK; before each step the decoder gradient's component
along each row is removed and the gradient norm clipped; after it the decoder rows are
re-normalised.

Embeddings may be a read-only ``np.memmap`` larger than RAM: batches are gathered by row
index (sorted within a batch, for locality), never the whole matrix. All randomness derives
from ``seed`` and the epoch number (split, median sample, init, per-epoch shuffles), so a
resumed run replays exactly what an uninterrupted one would have done.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from disentangle.errors import DisentangleError
from disentangle.metrics import (
    ReconstructionAccumulator,
    dead_fraction,
    feature_density,
    log_density_histogram,
)
from disentangle.sae import checkpoint
from disentangle.sae.losses import LossOutput, loss_fn
from disentangle.sae.model import SAEConfig, TopKSAE

PROGRESS_EVERY = 20
"""Steps between progress reports: fetching scalars to the host syncs a GPU, so not every step."""
DENSITY_EDGES = np.linspace(-6.0, 0.0, 25)
"""Fixed log10-density histogram edges, so epochs and models compare bin by bin."""
EXECUTION_ONLY = ("device", "fast")
"""Train-config fields that do not change the model: a run may resume with other values."""


@dataclass
class TrainConfig:
    """Optimisation settings; the defaults are the paper's."""

    epochs: int = 10
    batch_size: int = 1024
    lr: float = 1e-4
    grad_clip: float = 1.0
    aux_k: int | None = None
    """Latents AuxK may use; None: 2k, as in the paper's code."""
    aux_coef: float = 1 / 32
    """Weight of AuxK; 0 switches it off."""
    dead_steps: int | None = None
    """A latent is dead after this many steps without firing; None: one epoch of steps
    (the paper's code uses ~266 steps, about one epoch of its 271k abstracts)."""
    seed: int = 0
    val_fraction: float = 0.05
    median_sample: int = 10_000
    fast: bool = True
    device: str = "cpu"


@dataclass
class TrainResult:
    sae: TopKSAE
    meta: dict[str, Any]
    """The run's ``config.json`` content."""
    history: list[dict[str, Any]]
    """Per-epoch metrics, as in ``metrics.json``."""
    out_dir: Path


def split_indices(n_rows: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) row indices: the first ``round(val_fraction·n_rows)`` of
    ``np.random.default_rng(seed).permutation(n_rows)`` are validation. Recomputable from
    the ``split`` recipe stored in ``config.json``."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_val = round(val_fraction * n_rows)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _batches(rows: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Near-equal batches of at most ``batch_size`` rows (no tiny last batch, whose NMSE
    denominator could vanish), each sorted so memmap reads go forward."""
    return [np.sort(b) for b in np.array_split(rows, math.ceil(len(rows) / batch_size))]


def _load(embeddings: np.ndarray, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.asarray(embeddings[rows], dtype=np.float32)).to(device)


class _EpochStats:
    """Running sums kept on the device, read once per epoch (no per-step host syncs)."""

    def __init__(self, n: int, device: torch.device) -> None:
        self.fired = torch.zeros(n, dtype=torch.long, device=device)
        self.nmse = torch.zeros((), device=device)
        self.aux = torch.zeros((), device=device)
        self.active = torch.zeros((), dtype=torch.long, device=device)
        self.rows = 0
        self.steps = 0

    def update(self, out: LossOutput) -> torch.Tensor:
        """Add one batch; return its per-latent fire counts."""
        active = out.values > 0
        batch_fired = torch.zeros_like(self.fired).index_add_(
            0, out.indices.reshape(-1), active.reshape(-1).long()
        )
        self.fired += batch_fired
        self.nmse += out.nmse
        self.aux += out.aux
        self.active += active.sum()
        self.rows += out.values.shape[0]
        self.steps += 1
        return batch_fired

    def summary(self) -> dict[str, Any]:
        nmse = float(self.nmse) / self.steps
        return {"nmse": nmse, "fve": 1 - nmse, "aux": float(self.aux) / self.steps,
                **_code_stats(self.fired, int(self.active), self.rows)}


def _code_stats(fired: torch.Tensor, active: int, rows: int) -> dict[str, Any]:
    counts, edges = log_density_histogram(
        feature_density(fired.cpu().numpy(), rows), DENSITY_EDGES
    )
    return {"l0": active / rows, "dead_fraction": dead_fraction(fired),
            "log10_density_hist": {"counts": counts.tolist(), "edges": edges.tolist()}}


@torch.no_grad()
def _evaluate(
    sae: TopKSAE, embeddings: np.ndarray, rows: np.ndarray, batch_size: int,
    device: torch.device,
) -> dict[str, Any] | None:
    """Full validation pass. NMSE here pools all validation rows (one dataset-level mean);
    the train NMSE is the mean of per-batch NMSEs, i.e. what the loss saw."""
    if len(rows) == 0:
        return None
    accumulator = ReconstructionAccumulator()
    fired = torch.zeros(sae.config.n, dtype=torch.long, device=device)
    active = 0
    for start in range(0, len(rows), batch_size):
        x = _load(embeddings, rows[start : start + batch_size], device)
        code = sae.encode(x)
        accumulator.update(x, sae.decode(code.values, code.indices))
        is_active = code.values > 0
        fired.index_add_(0, code.indices.reshape(-1), is_active.reshape(-1).long())
        active += int(is_active.sum())
    nmse = accumulator.normalized_mse()
    return {"nmse": nmse, "fve": 1 - nmse, **_code_stats(fired, active, len(rows))}


def _run_meta(
    n_rows: int, sae_config: SAEConfig, train_config: TrainConfig, provenance: dict
) -> dict[str, Any]:
    meta = {
        "sae": sae_config.to_dict(),
        "train": asdict(train_config),
        "provenance": provenance,
        "split": {
            "recipe": "numpy.random.default_rng(seed).permutation(n_rows); the first "
            "round(val_fraction * n_rows) rows are validation (see trainer.split_indices)",
            "seed": train_config.seed, "val_fraction": train_config.val_fraction,
            "n_rows": n_rows,
        },
    }
    return json.loads(json.dumps(meta))  # the JSON round trip, so it compares with the file


def _same_run(stored: dict[str, Any], meta: dict[str, Any]) -> bool:
    def defining(m: dict[str, Any]) -> dict[str, Any]:
        train = {k: v for k, v in m["train"].items() if k not in EXECUTION_ONLY}
        return {**m, "train": train}

    return defining(stored) == defining(meta)


def train_sae(
    embeddings: np.ndarray,
    sae_config: SAEConfig,
    train_config: TrainConfig,
    out_dir: Path,
    provenance: dict,
    on_progress: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train (or resume, or just load) the SAE of ``out_dir``.

    ``provenance`` is stored verbatim in ``config.json``; ``checkpoint.check_compatible``
    expects ``{"embedder": {"model", "dim", "normalized"}, "corpus_hash", ...}``.
    ``on_progress`` gets ``{"event": "step", epoch, step, steps_total, loss, nmse}`` every
    ``PROGRESS_EVERY`` steps and at each epoch's end, then ``{"event": "epoch", epoch, step,
    steps_total, train, val}`` once that epoch's state is saved (raising there is a safe
    interruption).
    """
    out_dir = Path(out_dir)
    cfg = train_config
    if embeddings.ndim != 2 or embeddings.shape[1] != sae_config.d:
        raise DisentangleError(
            f"embeddings have shape {embeddings.shape} but the SAE expects [rows, "
            f"{sae_config.d}]; set d to the embedding dimension"
        )
    meta = _run_meta(len(embeddings), sae_config, cfg, provenance)
    stored = checkpoint.read_config(out_dir)
    if stored is not None and not _same_run(stored, meta):
        raise DisentangleError(
            f"{out_dir} holds a run with a different config or provenance; "
            f"use another --name or delete {out_dir}"
        )
    if checkpoint.is_finished(out_dir):
        sae, meta = checkpoint.load_sae(out_dir, cfg.device)
        history = checkpoint.load_state(out_dir)["history"]
        return TrainResult(sae, meta, history, out_dir)

    train_rows, val_rows = split_indices(len(embeddings), cfg.val_fraction, cfg.seed)
    if len(train_rows) < 2:
        raise DisentangleError(
            f"only {len(train_rows)} training rows; embed more documents or lower val_fraction"
        )
    device = torch.device(cfg.device)
    steps_per_epoch = math.ceil(len(train_rows) / cfg.batch_size)
    dead_steps = cfg.dead_steps or steps_per_epoch
    k_aux = min(cfg.aux_k or 2 * sae_config.k, sae_config.n)
    compute_loss = loss_fn(cfg.fast)

    sae = TopKSAE(sae_config, seed=cfg.seed)
    optimizer = torch.optim.Adam(sae.parameters(), lr=cfg.lr)
    state = checkpoint.load_state(out_dir)
    if state is None:
        rng = np.random.default_rng(cfg.seed)
        sample = rng.choice(train_rows, size=min(cfg.median_sample, len(train_rows)),
                            replace=False)
        sae.init_pre_bias(_load(embeddings, np.sort(sample), torch.device("cpu")))
        sae.to(device)
        state = {"epoch": 0, "step": 0, "history": [],
                 "steps_since_fired": torch.zeros(sae_config.n, dtype=torch.long)}
        checkpoint.write_config(out_dir, meta)
    else:
        sae.load_state_dict(state["model"])
        sae.to(device)
        optimizer.load_state_dict(state["optimizer"])
    step, history = state["step"], state["history"]
    steps_since_fired = state["steps_since_fired"].to(device)
    steps_total = cfg.epochs * steps_per_epoch

    for epoch in range(state["epoch"], cfg.epochs):
        shuffled = train_rows[np.random.default_rng([cfg.seed, epoch]).permutation(len(train_rows))]
        batches = _batches(shuffled, cfg.batch_size)
        stats = _EpochStats(sae_config.n, device)
        for i, rows in enumerate(batches):
            x = _load(embeddings, rows, device)
            # No latent can be dead before dead_steps steps: skip AuxK's work until then.
            dead = None
            if cfg.aux_coef > 0 and step >= dead_steps:
                dead = steps_since_fired >= dead_steps
            out = compute_loss(sae, x, dead, k_aux, cfg.aux_coef)
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            sae.remove_parallel_decoder_grad()
            torch.nn.utils.clip_grad_norm_(sae.parameters(), cfg.grad_clip)
            optimizer.step()
            sae.normalize_decoder()
            fired = stats.update(out)
            steps_since_fired += 1
            steps_since_fired.masked_fill_(fired > 0, 0)
            step += 1
            if on_progress is not None and ((i + 1) % PROGRESS_EVERY == 0 or i + 1 == len(batches)):
                on_progress({"event": "step", "epoch": epoch + 1, "step": step,
                             "steps_total": steps_total, "loss": float(out.loss.detach()),
                             "nmse": float(out.nmse)})
        record = {"epoch": epoch + 1, "step": step, "train": stats.summary(),
                  "val": _evaluate(sae, embeddings, val_rows, cfg.batch_size, device)}
        history.append(record)
        checkpoint.save_state(out_dir, {
            "model": {k: v.cpu() for k, v in sae.state_dict().items()},
            "optimizer": optimizer.state_dict(), "steps_since_fired": steps_since_fired.cpu(),
            "epoch": epoch + 1, "step": step, "history": history,
        })
        checkpoint.write_metrics(out_dir, history)
        if on_progress is not None:
            on_progress({"event": "epoch", "steps_total": steps_total, **record})

    checkpoint.write_metrics(out_dir, history)
    checkpoint.save_weights(out_dir, sae)
    return TrainResult(sae.eval(), meta, history, out_dir)
