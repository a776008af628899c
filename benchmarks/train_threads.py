"""Training-step and encoding time with and without a competing busy process, at 1 thread,
at all cores, and with the automatic choice (``disentangle.threads.ThreadChooser``).

The competitor is started by this script: one process spinning a Python loop (one core's
worth of load), running only during the "loaded" measurements. Every (load, threads)
measurement runs in a fresh spawned process and the combinations take turns over
``--rounds`` rounds, so a burst of other load on a shared machine hits them alike; the
ratios loaded / quiet are the result, never absolute times from different runs.

"auto" times what a user gets, trial steps included: the mean over all its steps, from the
first (the trainer's chooser starts by timing a few steps at each count).

    python benchmarks/train_threads.py [--config 384:3072:32] [--steps 40] [--rounds 3]
        [--tasks step,encode] [--append docs/benchmarks-training.md]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import BATCH, LR, data, machine

from disentangle import codes
from disentangle.sae.losses import fast_loss
from disentangle.sae.model import SAEConfig, TopKSAE
from disentangle.sae.trainer import (
    make_optimizer,
    retain_freed_memory,
    update_parameters,
)
from disentangle.threads import ThreadChooser, available_cores, torch_threads_for

ENCODE_ROWS = 32_768


def spin(parent: int) -> None:
    """One core's worth of load, until the benchmark ends (or dies: then this is orphaned)."""
    while os.getppid() == parent:
        for _ in range(100_000):
            pass


def _chooser(threads: str) -> ThreadChooser:
    return torch_threads_for(torch.device("cpu")) if threads == "auto" \
        else ThreadChooser([int(threads)])


def measure(task: str, threads: str, d: int, n: int, k: int, steps: int) -> dict:
    """Per-call times (ms) of ``steps`` training steps or encoding batches, and the load
    average when it ran."""
    retain_freed_memory()
    x_all, _ = data(d)
    x = torch.from_numpy(x_all)
    sae = TopKSAE(SAEConfig(d=d, n=n, k=k), seed=0)
    sae.init_pre_bias(x[:10_000])
    times = []
    if task == "step":
        optimizer = make_optimizer(sae, LR)
        batches = [x[i * BATCH:(i + 1) * BATCH] for i in range(len(x) // BATCH)]
        with _chooser(threads) as chooser:
            for i in range(steps):
                start = time.perf_counter()
                with chooser.timed():
                    out = fast_loss(sae, batches[i % len(batches)], None, 0, 1 / 32)
                    update_parameters(sae, optimizer, out.loss, 1.0)
                times.append(time.perf_counter() - start)
    else:
        codes.torch_threads_for = lambda _device: _chooser(threads)  # fixed counts: bypass
        rows = x_all[:ENCODE_ROWS]
        for _ in range(max(1, steps // 10)):
            start = time.perf_counter()
            codes.encode_embeddings(sae, rows)
            times.append(time.perf_counter() - start)
    return {"ms": [1e3 * t for t in times], "load": os.getloadavg()[0]}


def measure_all(task: str, modes: list[str], d: int, n: int, k: int, steps: int,
                rounds: int) -> dict[tuple[str, str], list[dict]]:
    context = mp.get_context("spawn")
    runs: dict[tuple[str, str], list[dict]] = {}
    with context.Pool(1, maxtasksperchild=1) as pool:
        for _ in range(rounds):
            for load in ("quiet", "loaded"):
                competitor = None
                if load == "loaded":
                    competitor = context.Process(target=spin, args=(os.getpid(),), daemon=True)
                    competitor.start()
                try:
                    for mode in modes:
                        runs.setdefault((load, mode), []).append(
                            pool.apply(measure, (task, mode, d, n, k, steps)))
                finally:
                    if competitor is not None:
                        competitor.terminate()
                        competitor.join()
    return runs


def summarise(runs: list[dict], mode: str) -> float:
    """Fixed counts: median call; auto: mean over all calls, trials included."""
    ms = [t for run in runs for t in run["ms"]]
    return statistics.fmean(ms) if mode == "auto" else statistics.median(ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="384:3072:32", help="d:n:k")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", default="step,encode")
    parser.add_argument("--append", type=Path)
    args = parser.parse_args()
    d, n, k = (int(part) for part in args.config.split(":"))
    cores = available_cores()
    modes = ["1", str(cores), "auto"] if cores > 1 else ["1", "auto"]
    lines = ["| task | threads | quiet ms | with 1 busy process ms | loaded / quiet | "
             "load avg (quiet / loaded runs) |", "|---|---|---|---|---|---|"]
    print(machine())
    print("\n".join(lines), flush=True)
    for task in args.tasks.split(","):
        runs = measure_all(task, modes, d, n, k, args.steps, args.rounds)
        for mode in modes:
            quiet, loaded = (summarise(runs[(load, mode)], mode) for load in ("quiet", "loaded"))
            loads = "/".join(f"{np.mean([r['load'] for r in runs[(load, mode)]]):.1f}"
                             for load in ("quiet", "loaded"))
            unit = (f"step (batch {BATCH})" if task == "step"
                    else f"encode {ENCODE_ROWS:,} rows")
            label = mode + (" (mean, trials incl.)" if mode == "auto" else " (median)")
            lines.append(f"| {unit} | {label} | {quiet:.1f} | {loaded:.1f} | "
                         f"{loaded / quiet:.2f}× | {loads} |")
            print(lines[-1], flush=True)
    if args.append:
        with args.append.open("a") as f:
            f.write(f"\n**Under load, measured** ({machine()}; d={d}, n={n}, k={k}, "
                    f"{args.rounds} interleaved rounds × {args.steps} steps, fresh process "
                    "each)\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
