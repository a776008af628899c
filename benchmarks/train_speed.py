"""Steps per second of one SAE training step: dense reference vs sparsify vs our fast path.

Every method runs the same full step (loss, backward, decoder-gradient projection, gradient
clipping, Adam, decoder re-normalisation) on the same batches of the same data, with the same
fused Adam and the same allocator setting (``retain_freed_memory``), so the table compares the
SAE forward and backward passes themselves. Our models start as the trainer starts them
(``TopKSAE.init_from_sample``: median pre-bias, encoder rows at the least-squares gain, on the
same 10k-row sample); sparsify starts from its own init with its decoder bias at that sample's
median. A fourth method, **naive**, is the dense reference as one would first write the recipe
(torch's default unfused Adam, default allocator): "ours vs naive" is what the whole fast path
buys a user. The "limit" is one encoder product ``[B, d] @ [d, n]``, timed in every measuring
process right after its steps: a step needs at least that product plus the encoder
weight-gradient product (sparse in ours) and the decoder work, so 100% of it is out of reach by
construction.

Each (config, method) runs in a fresh spawned process so its peak-RSS delta (``VmHWM`` minus
``VmRSS`` after setup, from /proc/self/status) is not hidden by memory an earlier method left
in the allocator. AuxK is off in the timed steps (no latent can be dead in the first steps of
a run, so our trainer skips it too); sparsify gets ``dead_mask=None`` likewise.

Setup: ``pip install -e ".[bench]" && pip install eai-sparsify==1.3.3 --no-deps``.

    python benchmarks/train_speed.py [--configs 384:1536:16,1536:9216:64] [--steps 6]
        [--rounds 3] [--methods naive,reference,sparsify,ours,batchtopk]
        [--threads N] [--append docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from disentangle.demo import shipped_embeddings
from disentangle.errors import DisentangleError
from disentangle.metrics import normalized_mse
from disentangle.sae.losses import loss_fn
from disentangle.sae.model import SAEConfig
from disentangle.sae.trainer import make_optimizer, retain_freed_memory, update_parameters
from disentangle.sae.variants import build_sae

DEFAULT_CONFIGS = "384:1536:16,384:1536:64,384:2304:16,384:2304:64,1536:9216:16,1536:9216:64"
BATCH = 1024
LR = 1e-3
"""Higher than the paper's 1e-4 so a few steps move NMSE visibly; the same for all methods."""
WARMUP = 2
EVAL_ROWS = 4096


def data(d: int) -> tuple[np.ndarray, str]:
    """Real MiniLM embeddings for d=384; otherwise unit-norm synthetic vectors made of 32
    random directions (out of 4d) plus noise, so top-k has structure to find."""
    if d == 384:
        try:
            real = np.load(shipped_embeddings(), mmap_mode="r")
            return np.asarray(real[:40_000], dtype=np.float32), "real MiniLM"
        except DisentangleError:
            pass  # no shared data here: synthetic vectors below
    rng = np.random.default_rng(0)
    atoms = rng.standard_normal((4 * d, d)).astype(np.float32)
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    rows = 24_000
    idx = rng.integers(0, 4 * d, (rows, 32))
    x = (rng.exponential(1.0, (rows, 32, 1)).astype(np.float32) * atoms[idx]).sum(1)
    x += 0.05 * rng.standard_normal(x.shape).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), "synthetic"


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(field)


def _import_sparsify() -> tuple[type, type]:
    """sparsify's package ``__init__`` pulls in its trainer (datasets, schedulefree); register
    a bare package so only ``sparse_coder`` and its own imports load."""
    spec = importlib.util.find_spec("sparsify")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("sparsify is not installed (pip install eai-sparsify==1.3.3 --no-deps)")
    package = types.ModuleType("sparsify")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["sparsify"] = package
    from sparsify.config import SparseCoderConfig
    from sparsify.sparse_coder import SparseCoder

    return SparseCoder, SparseCoderConfig


Fn = Callable[[torch.Tensor], torch.Tensor]


def _ours_or_reference(method: str, config: SAEConfig, sample: torch.Tensor) -> tuple[Fn, Fn]:
    """(training step returning the batch NMSE, inference forward), from the trainer's init on
    ``sample``, so the NMSE column is the real recipe's. "naive" is the dense
    reference with torch's default (unfused) Adam: the recipe as one would first write it;
    "batchtopk" is our fast path on the BatchTopK variant of the same size."""
    if method == "batchtopk":
        config = SAEConfig(d=config.d, n=config.n, k=config.k, architecture="batchtopk")
    sae = build_sae(config, seed=0)
    sae.init_from_sample(sample)
    optimizer = (torch.optim.Adam(sae.parameters(), lr=LR) if method == "naive"
                 else make_optimizer(sae, LR))
    compute = loss_fn(method in ("ours", "batchtopk"))

    def step(x: torch.Tensor) -> torch.Tensor:
        out = compute(sae, x, None, 0, 1 / 32)
        update_parameters(sae, optimizer, out.loss, 1.0)
        sae.track_training_code(out.values)
        return out.nmse

    return step, sae.forward


def _sparsify(config: SAEConfig, median: torch.Tensor) -> tuple[Fn, Fn]:
    """sparsify's own init, forward and loss (FVU + AuxK/32), with the same update recipe."""
    sparse_coder, coder_config = _import_sparsify()
    torch.manual_seed(0)
    sae = sparse_coder(config.d, coder_config(num_latents=config.n, k=config.k), device="cpu")
    with torch.no_grad():
        sae.b_dec.copy_(median)
    optimizer = make_optimizer(sae, LR)

    def step(x: torch.Tensor) -> torch.Tensor:
        out = sae(x, dead_mask=None)
        loss = out.fvu + out.auxk_loss / 32
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        sae.remove_gradient_parallel_to_decoder_directions()
        torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
        optimizer.step()
        sae.set_decoder_norm_to_unit_norm()
        return out.fvu.detach()

    return step, lambda x: sae(x).sae_out


def measure(method: str, d: int, n: int, k: int, steps: int, threads: int) -> dict:
    """One method at one config, in its own process: median step time, peak RSS delta and
    validation NMSE after ``WARMUP + steps`` steps."""
    torch.set_num_threads(threads)
    x_all, _ = data(d)
    train, held_out = torch.from_numpy(x_all[EVAL_ROWS:]), torch.from_numpy(x_all[:EVAL_ROWS])
    config = SAEConfig(d=d, n=n, k=k)
    sample = train[:10_000]
    try:
        step, forward = (_sparsify(config, sample.median(dim=0).values) if method == "sparsify"
                         else _ours_or_reference(method, config, sample))
    except ImportError as error:
        return {"error": str(error)}
    if method != "naive":
        # As the trainer does on CPU (it speeds up every method); set after the init, whose
        # [10k, n] temporaries would otherwise stay in the heap and hide the steps' own peak.
        retain_freed_memory()
    batches = [train[i * BATCH:(i + 1) * BATCH] for i in range(len(train) // BATCH)]
    base_rss = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    times = []
    for i in range(WARMUP + steps):
        start = time.perf_counter()
        step(batches[i % len(batches)])
        times.append(time.perf_counter() - start)
    peak = _rss_kib("VmHWM") - base_rss
    with torch.no_grad():
        nmse = float(normalized_mse(held_out, forward(held_out)))
    return {"ms": [1e3 * t for t in times[WARMUP:]], "peak_mib": peak / 1024, "nmse": nmse,
            "product_ms": product_ms(d, n, threads)}


def measure_rounds(methods: list[str], d: int, n: int, k: int, steps: int, rounds: int,
                   threads: int) -> tuple[dict[str, dict], float]:
    """Every method once per round, each run in a fresh process, rounds interleaved so that
    a burst of load on a shared machine hits all methods alike; the step time is the median
    over all rounds' steps, the peak memory the largest of the rounds. Also returns the
    one-product limit: the median of the encoder product timed inside every one of those
    processes, right after its steps."""
    context = mp.get_context("spawn")
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    with context.Pool(1, maxtasksperchild=1) as pool:
        for _ in range(rounds):
            for method in methods:
                runs[method].append(pool.apply(measure, (method, d, n, k, steps, threads)))
    limit = statistics.median(out["product_ms"] for outs in runs.values() for out in outs
                              if "error" not in out)
    results = {}
    for method, outs in runs.items():
        if "error" in outs[0]:
            results[method] = outs[0]
            continue
        results[method] = {"ms": statistics.median(t for out in outs for t in out["ms"]),
                           "peak_mib": max(out["peak_mib"] for out in outs),
                           "nmse": outs[0]["nmse"]}
    return results, limit


def product_ms(d: int, n: int, threads: int, repeats: int = 7) -> float:
    """Median time of one encoder product ``addmm(b, x[B, d], W[n, d]ᵀ)``: the floor."""
    torch.set_num_threads(threads)
    x, w, b = torch.randn(BATCH, d), torch.randn(n, d), torch.zeros(n)
    torch.addmm(b, x, w.t())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.addmm(b, x, w.t())
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def machine(threads: int | None = None) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with "
            f"{threads or os.cpu_count()} threads, Python {platform.python_version()}, "
            f"load average at start {os.getloadavg()[0]:.1f}")


def _header(methods: list[str], steps: int) -> list[str]:
    names = "/".join(methods)
    columns = (["d", "n", "k", "data"] + [f"{m} ms/step (steps/s)" for m in methods]
               + ["one product ms", "ours vs naive", "ours vs ref", "ours vs sparsify",
                  "ours / 1-product limit", "ours / 2-product floor", "batchtopk / ours",
                  f"peak RSS Δ MiB ({names})",
                  f"val NMSE after {WARMUP}+{steps} steps ({names})"])
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _row(d: int, n: int, k: int, results: dict[str, dict], limit: float) -> str:
    ok = {m: r for m, r in results.items() if "error" not in r}

    def speedup(over: str) -> str:
        return f"{ok[over]['ms'] / ok['ours']['ms']:.2f}×" if {"ours", over} <= ok.keys() \
            else "n/a"

    def share(products: int) -> str:
        return f"{products * limit / ok['ours']['ms']:.0%}" if "ours" in ok else "n/a"

    def joined(key: str, fmt: str) -> str:
        return "/".join(format(ok[m][key], fmt) if m in ok else "n/a" for m in results)

    cells = [str(d), str(n), str(k), data(d)[1]]
    cells += [f"{r['ms']:.1f} ({1e3 / r['ms']:.1f})" if "error" not in r else "n/a: " + r["error"]
              for r in results.values()]
    cells += [f"{limit:.1f}", speedup("naive"), speedup("reference"), speedup("sparsify"),
              share(1), share(2),
              f"{ok['batchtopk']['ms'] / ok['ours']['ms']:.2f}×"
              if {"ours", "batchtopk"} <= ok.keys() else "n/a",
              joined("peak_mib", ".0f"), joined("nmse", ".3f")]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="d:n:k,...")
    parser.add_argument("--methods", default="naive,reference,sparsify,ours")
    parser.add_argument("--steps", type=int, default=6, help="timed steps after warm-up")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per method")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads for every method (0: all cores)")
    parser.add_argument("--append", type=Path, help="append the table to this markdown file")
    args = parser.parse_args()
    threads = args.threads or os.cpu_count() or 1
    methods = args.methods.split(",")
    lines = _header(methods, args.steps)
    print(machine(threads))
    print("\n".join(lines), flush=True)
    for spec in args.configs.split(","):
        d, n, k = (int(part) for part in spec.split(":"))
        results, limit = measure_rounds(methods, d, n, k, args.steps, args.rounds, threads)
        lines.append(_row(d, n, k, results, limit))
        print(lines[-1], flush=True)
    if args.append:
        with args.append.open("a") as f:
            f.write(f"\n**Training step, measured** ({machine(threads)}; batch {BATCH}, lr {LR}, "
                    f"median of {args.rounds} interleaved rounds × {args.steps} steps "
                    f"after {WARMUP} warm-up; peak memory = "
                    "peak-RSS delta from /proc/self/status in a fresh process per method)\n\n")
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
