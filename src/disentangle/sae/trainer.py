"""Training loop for the top-k SAE (and its variants): the paper's recipe, resumable and
deterministic.

Recipe (O'Neill et al. 2024, after Gao et al. 2024): b_pre = coordinate-wise median of a
sample, the tied encoder rows scaled to the least-squares gain on that sample; Adam; loss =
NMSE + aux_coef·AuxK (damped, see losses.py); before each step the decoder gradient's
component along each row is removed and the gradient norm clipped; after it the decoder rows
are re-normalised.

Embeddings may be a read-only ``np.memmap`` larger than RAM: batches are gathered by row
index (sorted within a batch, for locality), never the whole matrix. All randomness derives
from ``seed`` and the epoch number (split, median sample, init, per-epoch shuffles), so a
resumed run replays exactly what an uninterrupted one would have done.
"""

from __future__ import annotations

import ctypes
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
from disentangle.sae.variants import build_sae
from disentangle.threads import ThreadChooser, torch_threads_for

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
    patience: int | None = None
    """Early stopping: stop once validation NMSE has not improved for this many epochs
    (None: train all ``epochs``)."""
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
    """Runs match on every defining field; train fields added since ``stored`` was written
    take their defaults (which reproduce what the older code did)."""
    defaults = asdict(TrainConfig())

    def defining(m: dict[str, Any]) -> dict[str, Any]:
        train = {k: v for k, v in {**defaults, **m["train"]}.items() if k not in EXECUTION_ONLY}
        return {**m, "train": train}

    return defining(stored) == defining(meta)


def retain_freed_memory() -> bool:
    """Ask glibc to keep freed blocks of up to 1 GiB in its heap instead of unmapping them.

    A CPU training step allocates and frees several ``[n, d]`` buffers (gradients, Adam's
    temporaries, the decoder-gradient projection). glibc serves blocks above 32 MiB with a
    fresh ``mmap`` and gives them back on free, so each step paid for faulting in and zeroing
    new pages: at n = 9216, d = 1536 that was a fifth of the step (benchmarks/train_speed.py).
    The cost is that the process keeps its peak memory until it exits. Returns whether the
    setting took (False off glibc, e.g. on macOS, where nothing changes).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(
        libc.mallopt(m_trim_threshold, 1 << 30))


def make_optimizer(sae: torch.nn.Module, lr: float) -> torch.optim.Adam:
    """The recipe's Adam, as one fused kernel per step: the unfused update makes several
    passes over both ``[n, d]`` matrices and was a third of a CPU training step (measured
    in benchmarks/train_speed.py; the fused update takes a quarter off the step)."""
    return torch.optim.Adam(sae.parameters(), lr=lr, fused=True)


def update_parameters(
    sae: TopKSAE, optimizer: torch.optim.Optimizer, loss: torch.Tensor, grad_clip: float
) -> None:
    """One optimiser step of the recipe: backward, project the decoder gradient, clip, step,
    re-normalise the decoder."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    sae.remove_parallel_decoder_grad()
    torch.nn.utils.clip_grad_norm_(sae.parameters(), grad_clip)
    optimizer.step()
    sae.normalize_decoder()


def dead_latents(steps_since_fired: torch.Tensor, dead_steps: int) -> torch.Tensor | None:
    """The AuxK mask: latents silent for ``dead_steps`` steps. None on CPU when there are
    none, so the step skips AuxK's selection and second decode (AuxK would be exactly 0);
    on a GPU that check would sync with the host, so the mask is returned as it is."""
    dead = steps_since_fired >= dead_steps
    if not dead.is_cuda and not dead.any():
        return None
    return dead


@dataclass
class RunSpec:
    """One model of a (possibly one-model) training pass."""

    sae_config: SAEConfig
    train_config: TrainConfig
    out_dir: Path


class _Run:
    """One model's training state: built fresh or from ``state.pt``, advanced batch by batch,
    saved after every epoch."""

    def __init__(self, spec: RunSpec, embeddings: np.ndarray, train_rows: np.ndarray,
                 meta: dict[str, Any], device: torch.device) -> None:
        cfg, sae_config = spec.train_config, spec.sae_config
        self.spec, self.cfg, self.out_dir, self.device = spec, cfg, Path(spec.out_dir), device
        self.steps_per_epoch = math.ceil(len(train_rows) / cfg.batch_size)
        self.dead_steps = cfg.dead_steps or self.steps_per_epoch
        self.k_aux = min(cfg.aux_k or 2 * sae_config.k, sae_config.n)
        self.compute_loss = loss_fn(cfg.fast)
        self.sae = build_sae(sae_config, seed=cfg.seed)
        self.optimizer = make_optimizer(self.sae, cfg.lr)
        state = checkpoint.load_state(self.out_dir)
        if state is None:
            rng = np.random.default_rng(cfg.seed)
            sample = rng.choice(train_rows, size=min(cfg.median_sample, len(train_rows)),
                                replace=False)
            self.sae.init_from_sample(_load(embeddings, np.sort(sample), torch.device("cpu")))
            self.sae.to(device)
            state = {"epoch": 0, "step": 0, "history": [],
                     "steps_since_fired": torch.zeros(sae_config.n, dtype=torch.long)}
            checkpoint.write_config(self.out_dir, meta)
        else:
            self.sae.load_state_dict(state["model"])
            self.sae.to(device)
            self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
        self.steps_since_fired = state["steps_since_fired"].to(device)
        self.steps_total = cfg.epochs * self.steps_per_epoch
        self.stats = _EpochStats(sae_config.n, device)

    def wants(self, epoch: int) -> bool:
        """Whether this run trains in ``epoch`` (0-based): not done and not stopped early."""
        return self.epoch == epoch < self.cfg.epochs and not self.stopped()

    def stopped(self) -> bool:
        """Early stopping: validation NMSE has not improved for ``patience`` epochs."""
        patience = self.cfg.patience
        vals = [r["val"]["nmse"] for r in self.history if r["val"] is not None]
        return patience is not None and len(vals) > patience and \
            min(vals[-patience:]) >= min(vals[:-patience])

    def train_batch(self, x: torch.Tensor) -> LossOutput:
        # No latent can be dead before dead_steps steps: skip AuxK's work until then.
        dead = None
        if self.cfg.aux_coef > 0 and self.step >= self.dead_steps:
            dead = dead_latents(self.steps_since_fired, self.dead_steps)
        out = self.compute_loss(self.sae, x, dead, self.k_aux, self.cfg.aux_coef)
        update_parameters(self.sae, self.optimizer, out.loss, self.cfg.grad_clip)
        self.sae.track_training_code(out.values)
        fired = self.stats.update(out)
        self.steps_since_fired += 1
        self.steps_since_fired.masked_fill_(fired > 0, 0)
        self.step += 1
        return out

    def end_epoch(self, embeddings: np.ndarray, val_rows: np.ndarray) -> dict[str, Any]:
        self.epoch += 1
        record = {"epoch": self.epoch, "step": self.step, "train": self.stats.summary(),
                  "val": _evaluate(self.sae, embeddings, val_rows, self.cfg.batch_size,
                                   self.device)}
        self.history.append(record)
        self.stats = _EpochStats(self.spec.sae_config.n, self.device)
        checkpoint.save_state(self.out_dir, {
            "model": {k: v.cpu() for k, v in self.sae.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "steps_since_fired": self.steps_since_fired.cpu(),
            "epoch": self.epoch, "step": self.step, "history": self.history,
        })
        checkpoint.write_metrics(self.out_dir, self.history)
        return record

    def finish(self) -> TrainResult:
        """Write the final weights (marking the run finished). After early stopping these are
        the last epoch's weights, whose NMSE is within the patience window of the best."""
        checkpoint.write_metrics(self.out_dir, self.history)
        checkpoint.save_weights(self.out_dir, self.sae)
        return TrainResult(self.sae.eval(), checkpoint.read_config(self.out_dir) or {},
                           self.history, self.out_dir)


def _shared_schedule(specs: list[RunSpec]) -> TrainConfig:
    """Runs share batches only if they share the split and the shuffles."""
    first = specs[0].train_config
    for spec in specs[1:]:
        cfg = spec.train_config
        if (cfg.seed, cfg.batch_size, cfg.val_fraction, cfg.device) != (
                first.seed, first.batch_size, first.val_fraction, first.device):
            raise DisentangleError(
                "runs trained in one pass must share seed, batch_size, val_fraction and "
                "device; train the others in a separate pass")
    return first


def train_many(
    embeddings: np.ndarray,
    specs: list[RunSpec],
    provenance: dict,
    on_progress: Callable[[dict], None] | None = None,
) -> list[TrainResult]:
    """Train several SAEs in one pass over the same batches: each batch is read once and fed
    to every unfinished model (each with its own optimizer), so a sweep costs its members'
    compute plus one pass of data loading. Each model's result is exactly what ``train_sae``
    would give it alone. Finished runs are loaded, not retrained; interrupted ones resume.

    ``on_progress`` events are those of ``train_sae`` with ``"run"`` (the out_dir name) added.
    """
    if not specs:
        return []
    cfg = _shared_schedule(specs)
    results: dict[int, TrainResult] = {}
    pending: list[tuple[int, RunSpec, dict[str, Any]]] = []
    for i, spec in enumerate(specs):
        if embeddings.ndim != 2 or embeddings.shape[1] != spec.sae_config.d:
            raise DisentangleError(
                f"embeddings have shape {embeddings.shape} but the SAE expects [rows, "
                f"{spec.sae_config.d}]; set d to the embedding dimension"
            )
        out_dir = Path(spec.out_dir)
        meta = _run_meta(len(embeddings), spec.sae_config, spec.train_config, provenance)
        stored = checkpoint.read_config(out_dir)
        if stored is not None and not _same_run(stored, meta):
            raise DisentangleError(
                f"{out_dir} holds a run with a different config or provenance; "
                f"use another --name or delete {out_dir}"
            )
        if checkpoint.is_finished(out_dir):
            sae, stored_meta = checkpoint.load_sae(out_dir, spec.train_config.device)
            history = (checkpoint.load_state(out_dir) or {}).get("history", [])
            results[i] = TrainResult(sae, stored_meta, history, out_dir)
        else:
            pending.append((i, spec, meta))
    if pending:
        train_rows, val_rows = split_indices(len(embeddings), cfg.val_fraction, cfg.seed)
        if len(train_rows) < 2:
            raise DisentangleError(f"only {len(train_rows)} training rows; embed more "
                                   "documents or lower val_fraction")
        device = torch.device(cfg.device)
        if device.type == "cpu":
            retain_freed_memory()
        else:
            # The encoder product runs under bf16 autocast; the remaining fp32 products (the
            # sparse weight gradients, validation) may use TF32 tensor cores.
            torch.set_float32_matmul_precision("high")
        runs = {i: _Run(spec, embeddings, train_rows, meta, device) for i, spec, meta in pending}
        # The fast path's step gives the same bits at any thread count (fast.py keeps its
        # thread-sensitive sums on one thread), so timing may choose the count; the dense
        # reference's does not, so it keeps torch's setting and stays reproducible.
        fast = all(spec.train_config.fast for _, spec, _ in pending)
        with torch_threads_for(device, same_bits_at_any_count=fast) as chooser:
            _train_epochs(embeddings, list(runs.values()), train_rows, val_rows, chooser,
                          on_progress)
        results.update({i: run.finish() for i, run in runs.items()})
    return [results[i] for i in range(len(specs))]


def _train_epochs(embeddings: np.ndarray, runs: list[_Run], train_rows: np.ndarray,
                  val_rows: np.ndarray, chooser: ThreadChooser,
                  on_progress: Callable[[dict], None] | None) -> None:
    cfg = runs[0].cfg
    device = runs[0].device
    for epoch in range(min(run.epoch for run in runs), max(run.cfg.epochs for run in runs)):
        active = [run for run in runs if run.wants(epoch)]
        if not active:
            continue
        shuffled = train_rows[np.random.default_rng([cfg.seed, epoch]).permutation(len(train_rows))]
        batches = _batches(shuffled, cfg.batch_size)
        for i, rows in enumerate(batches):
            x = _load(embeddings, rows, device)
            with chooser.timed():  # one unit: the runs of a sweep differ in cost
                outs = [run.train_batch(x) for run in active]
            if on_progress is not None and ((i + 1) % PROGRESS_EVERY == 0
                                            or i + 1 == len(batches)):
                for run, out in zip(active, outs, strict=True):
                    on_progress({"event": "step", "run": run.out_dir.name, "epoch": epoch + 1,
                                 "step": run.step, "steps_total": run.steps_total,
                                 "loss": float(out.loss.detach()), "nmse": float(out.nmse)})
        for run in active:
            record = run.end_epoch(embeddings, val_rows)
            if on_progress is not None:
                on_progress({"event": "epoch", "run": run.out_dir.name,
                             "steps_total": run.steps_total, **record})


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
    interruption). Both also carry ``run``, the out_dir name.
    """
    spec = RunSpec(sae_config, train_config, Path(out_dir))
    return train_many(embeddings, [spec], provenance, on_progress)[0]
