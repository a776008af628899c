"""Time the offline labeller over every feature of a workspace SAE, and say what it produced.

Runs in a fresh process, writes nothing into the workspace (partial results go to a
temporary folder), and prints wall and CPU time, peak memory, the cores it could use, and
the label statistics docs/labels.md reports: median Pearson (realistic design), mixed
features, duplicate labels (before disambiguation), clean features. Usage::

    python benchmarks/label_speed.py --workspace ws-demo [--sae n3072-k32] [--features 3072]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from disentangle.interpret import OfflineBackend, interpret_features
from disentangle.stages import codes, corpus_texts, query_embedder
from disentangle.workspace import BatchStore, Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--sae", default=None)
    parser.add_argument("--features", type=int, default=None, help="first N (default: all)")
    args = parser.parse_args()
    workspace = Workspace.open(args.workspace)
    name = workspace.resolve_sae(args.sae)
    wall, cpu = time.perf_counter(), time.process_time()
    sae_codes = codes(workspace, name)
    texts = corpus_texts(workspace)
    embeddings = workspace.embeddings()
    stats = workspace.sae_folder(name).feature_stats()
    embedder = query_embedder(workspace)
    backend = OfflineBackend(texts, embeddings, embedder)
    features = range(args.features) if args.features else None
    with tempfile.TemporaryDirectory() as out:
        table = interpret_features(texts, sae_codes, embeddings, backend, BatchStore(Path(out)),
                                   features=features, stats=stats, embedder=embedder)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pearson = table.column("pearson").to_numpy(zero_copy_only=False)
    mixed = table.column("mixed").to_numpy(zero_copy_only=False)
    duplicates = table.column("duplicate_of").to_numpy() >= 0
    labels = table.column("label").to_pylist()
    clean = table.column("clean").to_numpy(zero_copy_only=False)
    print(f"{table.num_rows} features of {name} labelled in {wall:.0f} s wall, {cpu:.0f} s CPU "
          f"(main process), {len(os.sched_getaffinity(0))} cores available, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"median Pearson {np.nanmedian(pearson):.3f}; mixed {int(mixed.sum())}; "
          f"duplicate labels disambiguated {int(duplicates.sum())}; unique labels "
          f"{len(set(labels))} of {len(labels)}; clean {int(clean.sum())}")


if __name__ == "__main__":
    main()
