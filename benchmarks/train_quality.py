"""Time to a good SAE: validation NMSE against training wall-clock time, ours vs sparsify.

Each method trains with its own recommended recipe on the same batches of real MiniLM
vectors, and the methods take turns in one process (``--chunk`` steps each), so a burst of
other load on a shared machine hits them alike. Only a method's own steps count towards its
clock; the validation passes (every ``--eval-every`` steps, on held-out rows) do not.

- **ours**: ``disentangle train``'s recipe as the demo runs it: tied init, coordinate-wise
  median pre-bias and encoder rows at the least-squares gain (``init_from_sample``), Adam at
  a constant ``--lr`` (the demo's 4e-4), gradient clipping at 1, damped AuxK (k_aux = 2k,
  weight 1/32) on steps where a latent is dead (silent for one epoch), the fast sparse step
  (``fast_loss``).
- **sparsify**: ``eai-sparsify==1.3.3`` ``SparseCoder`` with its trainer's recipe for Adam:
  ``nn.Linear`` init with the decoder a unit-norm copy, ``b_dec`` = the first batch's mean,
  lr = 2e-4 / sqrt(n / 2^14), linear warm-up over 1000 steps then linear decay to 0 at the
  last step, no clipping, no AuxK (its ``auxk_alpha`` defaults to 0), FVU loss. (Its default
  optimiser is sign-SGD under schedule-free, whose package we do not install.)
- **ours+sparsify-init**: our recipe from sparsify's initialisation (encoder rows of norm
  ~0.58, mean instead of median pre-bias).
- **ours+sparsify-schedule**: our recipe with sparsify's warm-up and decay applied to our lr.

The run ends after ``--steps`` steps for every method (sparsify's schedule reaches lr 0
there, so it has plateaued by construction); the table says when each method first reached
sparsify's final NMSE.

Setup: ``pip install -e ".[bench]" && pip install eai-sparsify==1.3.3 --no-deps``.

    python benchmarks/train_quality.py [--config 384:3072:32] [--steps 2000] [--threads 1]
        [--methods ours,sparsify,ours+sparsify-init] [--append docs/benchmarks-training.md]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import _import_sparsify, machine

from disentangle.demo import shipped_embeddings
from disentangle.metrics import normalized_mse
from disentangle.sae.losses import fast_loss
from disentangle.sae.model import SAEConfig, TopKSAE
from disentangle.sae.trainer import (
    dead_latents,
    make_optimizer,
    retain_freed_memory,
    update_parameters,
)

BATCH = 1024
VAL_ROWS = 4096
SPARSIFY_WARMUP = 1000

Step = Callable[[torch.Tensor], None]
Forward = Callable[[torch.Tensor], torch.Tensor]


def sparsify_lr(n: int) -> float:
    """sparsify's default Adam learning rate for ``n`` latents (its trainer.py)."""
    return 2e-4 / math.sqrt(n / 2**14)


def warmup_then_decay(total: int) -> Callable[[int], float]:
    """sparsify's schedule: linear warm-up over ``SPARSIFY_WARMUP`` steps, then linear decay
    to 0 at step ``total`` (as ``get_linear_schedule_with_warmup``)."""
    def factor(step: int) -> float:
        if step < SPARSIFY_WARMUP:
            return step / SPARSIFY_WARMUP
        return max(0.0, (total - step) / max(1, total - SPARSIFY_WARMUP))
    return factor


def sparsify_like_init(sae: TopKSAE, train: torch.Tensor) -> None:
    """sparsify's initialisation on our model: ``nn.Linear``'s default encoder init, the
    decoder a unit-norm copy of it, the pre-bias the mean of one batch."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(sae.config.d, sae.config.n)
    with torch.no_grad():
        sae.W_enc.copy_(linear.weight)
        sae.W_dec.copy_(linear.weight / linear.weight.norm(dim=1, keepdim=True))
        sae.b_lat.zero_()
        sae.b_pre.copy_(train[:BATCH].mean(0))


def ours(config: SAEConfig, train: torch.Tensor, lr: float, steps_per_epoch: int,
         total: int, init: str, schedule: str) -> tuple[Step, Forward]:
    sae = TopKSAE(config, seed=0)
    if init == "sparsify":
        sparsify_like_init(sae, train)
    else:
        sae.init_from_sample(train[:10_000])
    optimizer = make_optimizer(sae, lr)
    scheduler = (torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_decay(total))
                 if schedule == "sparsify" else None)
    since_fired = torch.zeros(config.n, dtype=torch.long)
    step_count = 0

    def step(x: torch.Tensor) -> None:
        nonlocal step_count
        # As the trainer: AuxK from the step a latent can first be dead (one epoch).
        dead = (dead_latents(since_fired, steps_per_epoch) if step_count >= steps_per_epoch
                else None)
        out = fast_loss(sae, x, dead, 2 * config.k, 1 / 32)
        update_parameters(sae, optimizer, out.loss, 1.0)
        if scheduler is not None:
            scheduler.step()
        fired = torch.zeros(config.n, dtype=torch.long).index_add_(
            0, out.indices.reshape(-1), (out.values > 0).reshape(-1).long())
        since_fired.add_(1).masked_fill_(fired > 0, 0)
        step_count += 1

    return step, sae.forward


def sparsify(config: SAEConfig, train: torch.Tensor, total: int) -> tuple[Step, Forward]:
    sparse_coder, coder_config = _import_sparsify()
    torch.manual_seed(0)
    sae = sparse_coder(config.d, coder_config(num_latents=config.n, k=config.k), device="cpu")
    with torch.no_grad():
        sae.b_dec.copy_(train[:BATCH].mean(0))
    optimizer = make_optimizer(sae, sparsify_lr(config.n))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_decay(total))

    def step(x: torch.Tensor) -> None:
        out = sae(x, dead_mask=None)
        optimizer.zero_grad(set_to_none=True)
        out.fvu.backward()
        sae.remove_gradient_parallel_to_decoder_directions()
        optimizer.step()
        scheduler.step()
        sae.set_decoder_norm_to_unit_norm()

    return step, lambda x: sae(x).sae_out


def build(method: str, config: SAEConfig, train: torch.Tensor, lr: float,
          steps_per_epoch: int, total: int) -> tuple[Step, Forward]:
    if method == "sparsify":
        return sparsify(config, train, total)
    init = "sparsify" if method == "ours+sparsify-init" else "ours"
    schedule = "sparsify" if method == "ours+sparsify-schedule" else "constant"
    return ours(config, train, lr, steps_per_epoch, total, init, schedule)


def run(methods: list[str], config: SAEConfig, train: torch.Tensor, val: torch.Tensor,
        lr: float, total: int, chunk: int, eval_every: int) -> dict[str, list[tuple]]:
    """Per method, ``(step, seconds, val NMSE)`` every ``eval_every`` steps."""
    steps_per_epoch = len(train) // BATCH
    order = np.concatenate([np.random.default_rng([0, epoch]).permutation(len(train))
                            for epoch in range(math.ceil(total / steps_per_epoch) + 1)])
    models = {m: build(m, config, train, lr, steps_per_epoch, total) for m in methods}
    clock = dict.fromkeys(methods, 0.0)
    curves: dict[str, list[tuple]] = {m: [] for m in methods}
    for start in range(0, total, chunk):
        for method in methods:
            step, forward = models[method]
            for i in range(start, min(total, start + chunk)):
                x = train[np.sort(order[i * BATCH:(i + 1) * BATCH])]
                began = time.perf_counter()
                step(x)
                clock[method] += time.perf_counter() - began
                if (i + 1) % eval_every == 0 or i + 1 == total:
                    with torch.no_grad():
                        nmse = float(normalized_mse(val, forward(val)))
                    curves[method].append((i + 1, clock[method], nmse))
        print(" ".join(f"{m}: step {c[-1][0]} {c[-1][1]:.0f}s nmse {c[-1][2]:.4f}"
                       for m, c in curves.items() if c), flush=True)
    return curves


def first_reach(curve: list[tuple], target: float) -> tuple[int, float] | None:
    return next(((s, t) for s, t, nmse in curve if nmse <= target), None)


def report(curves: dict[str, list[tuple]], config: SAEConfig) -> list[str]:
    target = curves["sparsify"][-1][2] if "sparsify" in curves else None
    reach = first_reach(curves["sparsify"], target) if target is not None else None
    lines = ["| d | n | k | method | final val NMSE | train s (steps) | reaches sparsify's "
             "final NMSE at s (step) | time vs sparsify's |", "|---|---|---|---|---|---|---|---|"]
    for method, curve in curves.items():
        step, seconds, nmse = curve[-1]
        hit = first_reach(curve, target) if target is not None else None
        cells = [str(config.d), str(config.n), str(config.k), method, f"{nmse:.4f}",
                 f"{seconds:.0f} ({step})",
                 f"{hit[1]:.0f} ({hit[0]})" if hit else "not reached",
                 f"{hit[1] / reach[1]:.2f}×" if hit and reach else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def curve_table(curves: dict[str, list[tuple]], every: int) -> list[str]:
    """Val NMSE by step for every method (the curve behind the summary)."""
    methods = list(curves)
    lines = ["| step | " + " | ".join(f"{m} s / NMSE" for m in methods) + " |",
             "|---" * (len(methods) + 1) + "|"]
    for row in range(len(curves[methods[0]])):
        step = curves[methods[0]][row][0]
        if step % every and row != len(curves[methods[0]]) - 1:
            continue
        lines.append(f"| {step} | " + " | ".join(
            f"{curves[m][row][1]:.0f} / {curves[m][row][2]:.4f}" for m in methods) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="384:3072:32", help="d:n:k (d must be 384)")
    parser.add_argument("--methods", default="ours,sparsify,ours+sparsify-init")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=4e-4, help="ours: the demo's default")
    parser.add_argument("--threads", type=int, default=1, help="the same for every method")
    parser.add_argument("--train-rows", type=int, default=0, help="subsample (0: all)")
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--append", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    retain_freed_memory()
    d, n, k = (int(part) for part in args.config.split(":"))
    x = np.load(shipped_embeddings(), mmap_mode="r")
    split = np.random.default_rng(0).permutation(len(x))
    val = torch.from_numpy(np.asarray(x[np.sort(split[:VAL_ROWS])], dtype=np.float32))
    train_rows = split[VAL_ROWS:]
    if args.train_rows:
        train_rows = train_rows[:args.train_rows]
    train = torch.from_numpy(np.asarray(x[np.sort(train_rows)], dtype=np.float32))
    config = SAEConfig(d=d, n=n, k=k)
    print(machine(args.threads), flush=True)
    curves = run(args.methods.split(","), config, train, val, args.lr, args.steps, args.chunk,
                 args.eval_every)
    lines = report(curves, config)
    detail = curve_table(curves, max(args.eval_every, args.steps // 10))
    print("\n".join([*lines, "", *detail]))
    if args.append:
        with args.append.open("a") as f:
            f.write(f"\n**Time to quality, measured** ({machine(args.threads)}; "
                    f"the same threads for every method; {len(train):,} training rows, "
                    f"{VAL_ROWS:,} held out; "
                    f"batch {BATCH}, {args.steps} steps, ours lr {args.lr}, sparsify lr "
                    f"{sparsify_lr(n):.2e}; methods interleaved every {args.chunk} steps)\n\n"
                    + "\n".join([*lines, "", *detail]) + "\n")


if __name__ == "__main__":
    main()
