"""Training memory on memory-mapped embeddings: does it stay flat as the corpus grows?

Writes synthetic embeddings (unit vectors, d = 384) to ``.npy`` files of two sizes, ten times
apart, opens each as a read-only memory map, as the workspace does, and trains one epoch of
the same SAE on each (each in a fresh process). While training, the process's resident memory
is sampled every few steps from /proc/self/status, split into its two kinds:

- ``RssAnon``: memory the process owns (model, optimiser, batches, index arrays). This is
  what must stay bounded;
- ``RssFile`` (above what shared libraries held before training): pages of the memory-mapped
  file currently mapped in. The kernel drops these under memory pressure (they are page
  cache), so a corpus larger than RAM still trains; here, with RAM to spare, they stay.

    python benchmarks/train_memory.py [--rows 200000,2000000] [--dir /tmp/disentangle-mem]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from disentangle.sae.model import SAEConfig
from disentangle.sae.trainer import TrainConfig, train_sae

D, N, K = 384, 1536, 32
CHUNK = 100_000


def write_embeddings(path: Path, rows: int, seed: int = 0) -> None:
    """Unit-norm vectors built from 32 of 4·d random directions, written chunk by chunk so
    the writer itself never holds the corpus."""
    rng = np.random.default_rng(seed)
    atoms = rng.standard_normal((4 * D, D)).astype(np.float32)
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    out = open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, D))
    for start in range(0, rows, CHUNK):
        count = min(CHUNK, rows - start)
        picks = rng.integers(0, 4 * D, (count, 32))
        x = (rng.exponential(1.0, (count, 32, 1)).astype(np.float32) * atoms[picks]).sum(1)
        out[start:start + count] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()
    del out


def _status_mib(*fields: str) -> dict[str, float]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name in fields:
            values[name] = int(line.split()[1]) / 1024
    return values


def train_one(path: str, out_dir: str) -> dict[str, float]:
    """One epoch on the memory map at ``path``; peak anonymous and file-backed RSS seen."""
    base = _status_mib("RssFile")["RssFile"]  # shared libraries already mapped
    embeddings = np.load(path, mmap_mode="r")
    peaks = {"RssAnon": 0.0, "RssFile": 0.0}

    def sample(_event: dict) -> None:
        for name, value in _status_mib("RssAnon", "RssFile").items():
            peaks[name] = max(peaks[name], value)

    start = time.perf_counter()
    train_sae(embeddings, SAEConfig(d=D, n=N, k=K),
              TrainConfig(epochs=1, lr=1e-3, val_fraction=0.01), Path(out_dir), {},
              on_progress=sample)
    sample({})
    return {"rows": len(embeddings), "file_mib": Path(path).stat().st_size / 2**20,
            "anon_mib": peaks["RssAnon"], "file_rss_mib": peaks["RssFile"] - base,
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="200000,2000000", help="corpus sizes, comma-separated")
    parser.add_argument("--dir", type=Path, default=None, help="where the .npy files go")
    args = parser.parse_args()
    sizes = [int(part) for part in args.rows.split(",")]
    context = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"SAE d={D}, n={N}, k={K}, batch 1024, one epoch; memory sampled every 20 steps")
        print("| rows | file MiB | peak RssAnon MiB | peak RssFile Δ MiB | seconds | anon / file |")
        print("|---|---|---|---|---|---|")
        for rows in sizes:
            path = Path(tmp) / f"x{rows}.npy"
            write_embeddings(path, rows)
            with context.Pool(1, maxtasksperchild=1) as pool:
                r = pool.apply(train_one, (str(path), str(Path(tmp) / f"run{rows}")))
            print(f"| {r['rows']:,} | {r['file_mib']:,.0f} | {r['anon_mib']:,.0f} | "
                  f"{r['file_rss_mib']:,.0f} | {r['seconds']:.0f} | "
                  f"{r['anon_mib'] / r['file_mib']:.2f} |", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
