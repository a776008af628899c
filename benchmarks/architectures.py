"""Top-k, BatchTopK and Matryoshka SAEs trained side by side on the same batches.

One ``train_many`` pass over the first rows of the real MiniLM embeddings: the three models
share the split, the shuffles and every batch (each has its own init and Adam). Then, per
model, on the validation split: NMSE, mean L0 of the inference code, and the NMSE of the
reconstruction from only the first ``m`` latents for each Matryoshka prefix ``m`` (for
top-k and BatchTopK the first ``m`` latents are an arbitrary subset, which is the point of
comparison). Dead fraction: latents that never fired in the last training epoch.

ms/step is timed after training, not during it (``train_many`` interleaves the models):
fresh models take full steps (loss, backward, decoder projection, clipping, Adam, decoder
re-normalisation, BatchTopK's threshold update; no AuxK, as in a run's first steps) on the
same batches, interleaved model by model so load changes on a shared machine hit all three.

    python benchmarks/architectures.py [--rows 30000] [--n 1536] [--k 32] [--epochs 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from train_speed import machine

from disentangle.demo import shipped_embeddings
from disentangle.metrics import ReconstructionAccumulator
from disentangle.sae.losses import loss_fn
from disentangle.sae.model import ARCHITECTURES, SAEConfig, TopKSAE
from disentangle.sae.trainer import (
    RunSpec,
    TrainConfig,
    TrainResult,
    split_indices,
    train_many,
    update_parameters,
)
from disentangle.sae.variants import build_sae, prefix_values

BATCH = 1024
LR = 1e-3
"""Higher than the paper's 1e-4 so a short run gets somewhere; the same for all three."""
TIMED_STEPS = 12
WARMUP = 2
PROVENANCE = {"embedder": {"model": "all-MiniLM-L6-v2", "dim": 384, "normalized": True},
              "corpus_hash": "benchmark", "input_normalization": "none"}


@torch.no_grad()
def prefix_nmse(sae: TopKSAE, x: torch.Tensor, sizes: tuple[int, ...]) -> list[float]:
    """Pooled NMSE of the reconstruction from the latents below each size."""
    pooled = [ReconstructionAccumulator() for _ in sizes]
    for start in range(0, len(x), BATCH):
        batch = x[start:start + BATCH]
        code = sae.encode(batch)
        for accumulator, size in zip(pooled, sizes, strict=True):
            accumulator.update(batch, sae.decode(prefix_values(code.values, code.indices, size),
                                                 code.indices))
    return [accumulator.normalized_mse() for accumulator in pooled]


def step_ms(configs: list[SAEConfig], x: torch.Tensor, train_rows: np.ndarray) -> list[float]:
    """Median milliseconds of one full training step per config (see the module docstring)."""
    compute = loss_fn(fast=True)
    models = []
    for config in configs:
        sae = build_sae(config, seed=0)
        sae.init_pre_bias(x[train_rows[:10_000]])
        models.append((sae, torch.optim.Adam(sae.parameters(), lr=LR)))
    rng = np.random.default_rng(1)
    times: list[list[float]] = [[] for _ in configs]
    for step in range(WARMUP + TIMED_STEPS):
        batch = x[np.sort(rng.choice(train_rows, BATCH, replace=False))]
        for (sae, optimizer), spent in zip(models, times, strict=True):
            start = time.perf_counter()
            out = compute(sae, batch)
            update_parameters(sae, optimizer, out.loss, grad_clip=1.0)
            sae.track_training_code(out.values)
            if step >= WARMUP:
                spent.append(1e3 * (time.perf_counter() - start))
    return [statistics.median(spent) for spent in times]


def table(results: list[TrainResult], x_val: torch.Tensor, sizes: tuple[int, ...],
          ms: list[float]) -> list[str]:
    prefixes = [f"NMSE from first {m}" for m in sizes[:-1]]
    lines = ["| architecture | val NMSE | " + " | ".join(prefixes)
             + " | dead (last epoch) | val L0 | ms/step |",
             "|---" * (5 + len(prefixes)) + "|"]
    for result, step in zip(results, ms, strict=True):
        last = result.history[-1]
        nmses = prefix_nmse(result.sae, x_val, sizes)
        lines.append(f"| {result.sae.config.architecture} | {nmses[-1]:.4f} | "
                     + " | ".join(f"{v:.4f}" for v in nmses[:-1])
                     + f" | {last['train']['dead_fraction']:.1%} | {last['val']['l0']:.1f} | "
                     f"{step:.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--n", type=int, default=1536)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    embeddings = np.asarray(np.load(shipped_embeddings(), mmap_mode="r")[:args.rows],
                            dtype=np.float32)
    d = embeddings.shape[1]
    configs = [SAEConfig(d=d, n=args.n, k=args.k, architecture=name) for name in ARCHITECTURES]
    sizes = configs[ARCHITECTURES.index("matryoshka")].prefixes or (args.n,)
    train_config = TrainConfig(epochs=args.epochs, batch_size=BATCH, lr=LR)
    print(machine())
    print(f"{args.rows:,} real MiniLM embeddings (d={d}), n={args.n}, k={args.k}, batch {BATCH}, "
          f"lr {LR}, {args.epochs} epochs, seed {train_config.seed}; Matryoshka prefixes "
          f"{', '.join(map(str, sizes))}", flush=True)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        results = train_many(embeddings, [RunSpec(c, train_config, Path(out) / c.architecture)
                                          for c in configs], PROVENANCE)
        seconds = time.perf_counter() - started
    train_rows, val_rows = split_indices(len(embeddings), train_config.val_fraction,
                                         train_config.seed)
    x = torch.from_numpy(embeddings)
    ms = step_ms(configs, x, train_rows)
    print(f"side-by-side training: {seconds:.0f} s; validation: {len(val_rows):,} rows\n")
    print("\n".join(table(results, x[val_rows], sizes, ms)))


if __name__ == "__main__":
    main()
