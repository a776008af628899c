"""Family pipeline speed at the paper's SAE64 size: n = 9216, k = 64, 400,000 documents.

Synthetic top-k codes with Zipf-like feature frequencies (exponent 0.8, giving a mean log10
density near the paper's -2.5); all features count as clean. Times co-occurrence (upper
triangle + normalised, thresholded weights), the spanning tree, and family extraction (the
full iterative build, trees included), median of 3 runs; prints a markdown table and peak RSS.

    python benchmarks/families_speed.py [--docs 400000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np

from disentangle.codes import SparseCodes
from disentangle.families import (
    build_families,
    cooccurrence,
    feature_counts,
    maximum_spanning_tree,
    normalised_weights,
)


def zipf_codes(docs: int, n: int, k: int, seed: int = 0) -> SparseCodes:
    """k distinct features per document drawn by Zipf weights (duplicates redrawn uniformly)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n + 1) ** 0.8
    indices = rng.choice(n, size=(docs, k), p=weights / weights.sum()).astype(np.int32)
    while True:
        indices.sort(axis=1)
        duplicate = np.zeros(indices.shape, bool)
        duplicate[:, 1:] = indices[:, 1:] == indices[:, :-1]
        if not duplicate.any():
            break
        indices[duplicate] = rng.integers(0, n, int(duplicate.sum()))
    values = rng.uniform(0.1, 3.0, size=(docs, k)).astype(np.float32)
    return SparseCodes(rng.permutation(n).astype(np.int32)[indices], values, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400_000)
    parser.add_argument("--features", type=int, default=9216)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    codes = zipf_codes(args.docs, args.features, args.k)
    timings: dict[str, list[float]] = {"co-occurrence": [], "tree": [], "families": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        counts = feature_counts(codes)
        weights = normalised_weights(cooccurrence(codes, upper=True), counts)
        timings["co-occurrence"].append(time.perf_counter() - start)
        density = counts / len(codes)
        start = time.perf_counter()
        maximum_spanning_tree(weights, density)
        timings["tree"].append(time.perf_counter() - start)
        start = time.perf_counter()
        build = build_families(weights, density)
        timings["families"].append(time.perf_counter() - start)
    medians = {stage: statistics.median(times) for stage, times in timings.items()}
    log_density = np.log10(density[density > 0]).mean()
    print(f"docs={len(codes):,} n={codes.n_features} k={args.k} "
          f"mean log10 density={log_density:.2f} edges kept={weights.nnz:,} "
          f"families={len(build.families)} (iterations run: {len(build.trees)})\n")
    print(f"| stage | median of {args.repeats} (s) |")
    print("|---|---|")
    for stage, seconds in medians.items():
        print(f"| {stage} | {seconds:.2f} |")
    print(f"| total | {sum(medians.values()):.2f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
