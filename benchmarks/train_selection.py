"""A/B of the CPU selection shortcuts inside our fast training step: grouped top-k
(``sae.model.top_k``) against ``torch.topk``, and AuxK over the dead columns only
(``sae.fast._top_dead``) against a masked copy of all pre-activations.

Both variants of a pair train their own model on the same batches of real MiniLM vectors in
one process, alternating step by step, so load on a shared machine hits them alike; the
result is the ratio of median step times.

    python benchmarks/train_selection.py [--threads 1] [--steps 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import BATCH, LR, data, machine

from disentangle.sae import fast, model
from disentangle.sae.losses import fast_loss
from disentangle.sae.model import SAEConfig, top_k
from disentangle.sae.trainer import make_optimizer, retain_freed_memory, update_parameters
from disentangle.sae.variants import build_sae

WARMUP = 2


def plain_top_k(pre: torch.Tensor, k: int, sorted: bool = False):
    return pre.topk(k, dim=1, sorted=sorted)


def masked_top_dead(pre: torch.Tensor, dead: torch.Tensor, k_aux: int):
    return top_k(pre.masked_fill(~dead, float("-inf")), k_aux)


def ab(config: SAEConfig, variants: dict[str, Callable[[], None]], dead: torch.Tensor | None,
       x: torch.Tensor, steps: int) -> dict[str, float]:
    """Median step ms per variant; each variant's setter patches ``fast`` before its step."""
    models = {}
    for name in variants:
        sae = build_sae(config, seed=0)
        sae.init_pre_bias(x[:10_000])
        models[name] = (sae, make_optimizer(sae, LR))
    times: dict[str, list[float]] = {name: [] for name in variants}
    batches = len(x) // BATCH
    for i in range(WARMUP + steps):
        for name, patch in variants.items():
            patch()
            sae, optimizer = models[name]
            start = time.perf_counter()
            out = fast_loss(sae, x[BATCH * (i % batches):BATCH * (i % batches + 1)], dead,
                            2 * config.k, 1 / 32)
            update_parameters(sae, optimizer, out.loss, 1.0)
            if i >= WARMUP:
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    retain_freed_memory()
    x = torch.from_numpy(data(384)[0])
    grouped, dead_columns = model.top_k, fast._top_dead
    print(machine(args.threads))
    print("| comparison | config | A ms | B ms | B / A |\n|---|---|---|---|---|")
    for n, k in [(1536, 16), (1536, 64), (2304, 16), (2304, 64), (3072, 32)]:
        ms = ab(SAEConfig(384, n, k), {
            "grouped": lambda: setattr(model, "top_k", grouped),
            "plain": lambda: setattr(model, "top_k", plain_top_k)}, None, x, args.steps)
        print(f"| A grouped top-k, B torch.topk (AuxK off) | {n}:{k} | {ms['grouped']:.1f} | "
              f"{ms['plain']:.1f} | {ms['plain'] / ms['grouped']:.2f}× |", flush=True)
    model.top_k = grouped
    for share in (0.02, 0.2):
        dead = torch.rand(3072, generator=torch.Generator().manual_seed(0)) < share
        ms = ab(SAEConfig(384, 3072, 32), {
            "columns": lambda: setattr(fast, "_top_dead", dead_columns),
            "masked": lambda: setattr(fast, "_top_dead", masked_top_dead)}, dead, x, args.steps)
        print(f"| A AuxK over dead columns, B masked copy ({share:.0%} dead, k_aux 64) | "
              f"3072:32 | {ms['columns']:.1f} | {ms['masked']:.1f} | "
              f"{ms['masked'] / ms['columns']:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
