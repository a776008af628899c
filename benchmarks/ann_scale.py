"""On-disk IVF-PQ search at millions of rows: build time, memory, size, recall@10, latency.

Vectors are synthetic but shaped like sentence embeddings (MiniLM abstracts), because uniform
random vectors have no neighbourhoods for a quantizer to learn and make any ANN look bad:

    x = 0.8·μ + c[topic, subtopic] + 0.7·A·g,   then x /= |x|

with μ one shared direction (real embeddings share a mean; |mean| ≈ 0.5), A = Q·diag(s) a random
rotation of a decaying spectrum s_i ∝ i^-0.45 (participation ratio ≈ 47 dimensions, as in the
demo's MiniLM vectors), 2,000 topics of Zipf-like size (p ∝ (t + 10)^-0.8) with 25 subtopics
each (c = A·g_topic + 0.6·A·g_sub), and g standard normal. On 20k rows it gives mean pairwise
cosine 0.29, nearest-neighbour cosine 0.79, 10th 0.66 (MiniLM demo: 0.28, 0.74, 0.67); the
``stats`` step prints both. Queries are 1,000 further draws of the same generator, not indexed.

Every step runs in a fresh process (so peak memory is its own); build time is reported as wall
and as CPU seconds of the process (on a shared machine the CPU time is the comparable one);
resident memory is sampled
every 50 ms as anonymous (heap: what the index costs) and file-backed (pages of the memory-mapped
files, which the kernel can drop). Usage::

    nice -n 10 python benchmarks/ann_scale.py --rows 1000000 2000000 --dir /work/ann-bench
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

D = 384
GENERATOR_CHUNK = 100_000
QUERIES = 1_000
QUERY_SEED = 10**6
NPROBES = (8, 16, 32, 64)


class Generator:
    """The clustered sentence-embedding-like generator described in the module docstring."""

    def __init__(self, seed: int = 0, topics: int = 2000, subtopics: int = 25) -> None:
        rng = np.random.default_rng(seed)
        basis = np.linalg.qr(rng.standard_normal((D, D)))[0]
        spectrum = np.arange(1, D + 1) ** -0.45
        self.shape = (basis * (spectrum / np.linalg.norm(spectrum))).astype(np.float32)
        mean = rng.standard_normal(D)
        self.mean = (0.8 * mean / np.linalg.norm(mean)).astype(np.float32)
        centres = rng.standard_normal((topics, D)).astype(np.float32) @ self.shape.T
        spread = rng.standard_normal((topics, subtopics, D)).astype(np.float32) @ self.shape.T
        self.centres = (centres[:, None, :] + 0.6 * spread).reshape(-1, D)
        weights = (np.arange(topics) + 10.0) ** -0.8
        self.weights = weights / weights.sum()
        self.subtopics = subtopics

    def draw(self, count: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        topic = rng.choice(len(self.weights), count, p=self.weights)
        centre = topic * self.subtopics + rng.integers(0, self.subtopics, count)
        noise = rng.standard_normal((count, D), dtype=np.float32) @ self.shape.T
        x = self.mean + self.centres[centre] + 0.7 * noise
        return x / np.linalg.norm(x, axis=1, keepdims=True)


class MemorySampler:
    """Peak anonymous and file-backed resident memory of this process, sampled in a thread."""

    def __init__(self) -> None:
        self.peak = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _read(self) -> dict[str, int]:
        values = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in self.peak:
                values[key] = int(rest.split()[0]) * 1024
        return values

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for key, value in self._read().items():
                self.peak[key] = max(self.peak[key], value)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {"peak_anon_mb": self.peak["RssAnon"] / 2**20,
                "peak_file_mb": self.peak["RssFile"] / 2**20}


def paths(root: Path, rows: int) -> dict[str, Path]:
    folder = root / f"{rows}"
    return {"folder": folder, "embeddings": folder / "embeddings.npy",
            "queries": folder / "queries.npy", "truth": folder / "truth.npy",
            "index": folder / "ivfpq.faiss", "build": folder / "build"}


def generate(root: Path, rows: int) -> dict:
    """Embeddings (written chunk by chunk), queries and exact top-10 of every query."""
    from disentangle.search import ExactIndex

    p = paths(root, rows)
    p["folder"].mkdir(parents=True, exist_ok=True)
    generator = Generator()
    start = time.perf_counter()
    if not p["embeddings"].exists():
        tmp = p["embeddings"].with_suffix(".tmp.npy")
        out = np.lib.format.open_memmap(tmp, "w+", np.float32, (rows, D))
        for first in range(0, rows, GENERATOR_CHUNK):
            stop = min(first + GENERATOR_CHUNK, rows)
            out[first:stop] = generator.draw(stop - first, seed=first // GENERATOR_CHUNK + 1)
        out.flush()
        del out
        tmp.rename(p["embeddings"])
    queries = generator.draw(QUERIES, seed=QUERY_SEED)
    np.save(p["queries"], queries)
    embeddings = np.load(p["embeddings"], mmap_mode="r")
    exact = ExactIndex(embeddings)
    truth = exact.search(queries, 10)[1]
    np.save(p["truth"], truth)
    single = []
    for q in queries[:20]:
        t = time.perf_counter()
        exact.search(q, 10)
        single.append(time.perf_counter() - t)
    return {"generate_and_truth_s": time.perf_counter() - start,
            "exact_p50_ms": 1000 * float(np.median(single))}


def build(root: Path, rows: int) -> dict:
    """The chunked, resumable build (as ``disentangle index --kind ivfpq`` runs it)."""
    import faiss

    from disentangle.search.ondisk import IVFPQSettings, build_ivfpq
    from disentangle.workspace import IndexBuild

    p = paths(root, rows)
    embeddings = np.load(p["embeddings"], mmap_mode="r")
    settings = IVFPQSettings.for_size(*embeddings.shape)
    shutil.rmtree(p["build"], ignore_errors=True)  # time a build from scratch
    memory = MemorySampler()
    start, cpu = time.perf_counter(), time.process_time()
    index = build_ivfpq(embeddings, settings, IndexBuild(p["build"]))
    faiss.write_index(index, str(p["index"]))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    shutil.rmtree(p["build"])
    return {"build_s": seconds, "build_cpu_s": cpu,
            **{f"build_{k}": v for k, v in memory.stop().items()},
            "index_mb": p["index"].stat().st_size / 2**20, "settings": settings.factory()}


def search(root: Path, rows: int) -> dict:
    """Recall@10 against exact search and single-query latency for each nprobe."""
    from disentangle.search.ondisk import IVFPQIndex

    p = paths(root, rows)
    memory = MemorySampler()
    embeddings = np.load(p["embeddings"], mmap_mode="r")
    queries, truth = np.load(p["queries"]), np.load(p["truth"])
    index = IVFPQIndex.load(p["index"], embeddings, "ivfpq")
    results = []
    for nprobe in NPROBES:
        index.effort = nprobe
        for q in queries[:50]:  # warm the lists and rows that queries touch
            index.search(q, 10)
        latency, hits = [], []
        for q in queries:
            t = time.perf_counter()
            _, found = index.search(q, 10)
            latency.append(time.perf_counter() - t)
            hits.append(found[0])
        recall = np.mean([len(set(h) & set(t)) / 10 for h, t in zip(hits, truth, strict=True)])
        results.append({"nprobe": nprobe, "recall_at_10": float(recall),
                        "p50_ms": 1000 * float(np.percentile(latency, 50)),
                        "p95_ms": 1000 * float(np.percentile(latency, 95))})
    return {"search": results, **{f"search_{k}": v for k, v in memory.stop().items()}}


def stats(real: Path | None) -> dict:
    """Neighbourhood statistics of 20k synthetic rows (and of real embeddings, if given)."""
    def describe(x: np.ndarray) -> dict:
        q = x[:500]
        sims = q @ x.T
        sims[np.arange(500), np.arange(500)] = -1
        ranked = -np.sort(-sims, axis=1)
        return {"pairwise": float((q @ x[500:].T).mean()), "nn1": float(ranked[:, 0].mean()),
                "nn10": float(ranked[:, 9].mean()), "mean_norm": float(np.linalg.norm(
                    x.mean(0)))}
    out = {"synthetic": describe(Generator().draw(20_000, seed=99))}
    if real is not None:
        vectors = np.load(real, mmap_mode="r")
        rows = np.sort(np.random.default_rng(0).choice(len(vectors), 20_000, replace=False))
        out["real"] = describe(np.asarray(vectors[rows], np.float32))
    return out


def extrapolate(results: list[dict], rows: int) -> dict:
    """Predictions at ``rows`` from measured sizes, by least squares on cost models:

    - build CPU s = a · train_rows · nlist + b · rows · nlist (k-means, then assigning rows to
      lists; PQ work is linear in the same terms);
    - build anonymous memory = c + e · rows (codes and ids) + f · train_rows (the sample);
    - p50 latency at a given nprobe = g + h · nprobe · rows / nlist (PQ codes scanned), with
      the re-ranking reads assumed served from the page cache as in the measured runs;
    - index size: the codes, ids and centroids, counted, not fitted.
    """
    from disentangle.search.ondisk import IVFPQSettings

    shapes = [IVFPQSettings.for_size(r["rows"], D) for r in results]
    target = IVFPQSettings.for_size(rows, D)
    timed = [(r, s) for r, s in zip(results, shapes, strict=True) if "build_cpu_s" in r]
    a = np.array([[s.train_rows * s.nlist, r["rows"] * s.nlist] for r, s in timed], float)
    cpu = np.linalg.lstsq(a, [r["build_cpu_s"] for r, _ in timed], rcond=None)[0]
    m = np.array([[1, r["rows"], s.train_rows] for r, s in zip(results, shapes, strict=True)])
    mem = np.linalg.lstsq(m, [r["build_peak_anon_mb"] for r in results], rcond=None)[0]
    out = {"rows": rows, "settings": target.factory(),
           "build_cpu_s": float(cpu @ [target.train_rows * target.nlist, rows * target.nlist]),
           "build_peak_anon_mb": float(mem @ [1, rows, target.train_rows]),
           "index_mb": (rows * (target.m + 8) + target.nlist * D * 4) / 2**20, "p50_ms": {}}
    for nprobe in (*NPROBES, 128):
        points = [(nprobe_row["nprobe"] * r["rows"] / s.nlist, nprobe_row["p50_ms"])
                  for r, s in zip(results, shapes, strict=True) for nprobe_row in r["search"]]
        g, h = np.polyfit([x for x, _ in points], [y for _, y in points], 1)[::-1]
        out["p50_ms"][nprobe] = float(g + h * nprobe * rows / target.nlist)
    return out


def fresh(step: str, root: Path, rows: int) -> dict:
    """Run one step in a fresh process of this script and return its JSON."""
    done = subprocess.run([sys.executable, __file__, "--step", step, "--dir", str(root),
                           "--rows", str(rows)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"step {step} at {rows} rows failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--dir", type=Path, default=Path("/work/ann-bench"))
    parser.add_argument("--step", choices=["generate", "build", "search"])
    parser.add_argument("--real", type=Path, help="real embeddings.npy to compare the generator")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--extrapolate", type=Path, nargs="+", metavar="RESULTS_JSON",
                        help="predict at --rows from measured results instead of measuring")
    args = parser.parse_args()
    if args.extrapolate:
        measured = [r for path in args.extrapolate for r in json.loads(path.read_text())]
        for rows in args.rows:
            print(json.dumps(extrapolate(sorted(measured, key=lambda r: r["rows"]), rows)))
        return
    if args.step:
        step = {"generate": generate, "build": build, "search": search}[args.step]
        print(json.dumps(step(args.dir, args.rows[0])))
        return
    print(json.dumps(stats(args.real)), flush=True)
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    for rows in args.rows:
        result = {"rows": rows}
        for step in ("generate", "build", "search"):
            result.update(fresh(step, args.dir, rows))
        results.append(result)
        print(json.dumps(result), flush=True)
        for r in result["search"]:
            print(f"| {rows:,} | {r['nprobe']} | {r['recall_at_10']:.3f} | {r['p50_ms']:.2f} | "
                  f"{r['p95_ms']:.2f} |", flush=True)
        if args.out:
            args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
