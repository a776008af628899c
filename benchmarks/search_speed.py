"""Steered-search latency and ANN recall on a synthetic 300k-document corpus.

Documents are sums of 32 decoder directions of a random SAE (n=3072, d=384) with Zipf-like
feature frequencies plus noise, so they have the clustered structure ANN indexes rely on
(uniform random vectors would be an unfair worst case). Queries are perturbed documents,
embedded by a stub so that only search itself is timed; ``--embed`` also times the real
MiniLM query embedding separately.

``--real`` adds ANN recall on real embeddings (the shipped MiniLM vectors of 52,000 arXiv
abstracts): the last ``--queries`` rows are the queries, the rest the corpus, and recall@10 of
each FAISS index is measured against the exact index on the same vectors.

``--workspace WS`` times plain, vector-steered and hybrid-steered search on a real workspace
(e.g. the demo's), interleaved query by query so the three share the machine's load. The
queries are the bundled astro and ML query sets, embedded once beforehand (embedding is timed
by ``--embed``); each raises a feature drawn as ``disentangle eval steering`` draws it and
lowers the query's strongest feature.

    python benchmarks/search_speed.py [--docs 300000] [--queries 50] [--embed] [--real [NPY]]
                                      [--workspace WS]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import torch

from disentangle import stages
from disentangle.codes import SparseCodes
from disentangle.demo import shipped_embeddings
from disentangle.sae.model import SAEConfig, TopKSAE
from disentangle.search import Filters, Searcher, down, load_query_set, make_index, up
from disentangle.search.evaluation import GLOBAL_BLEND, draw_cases
from disentangle.workspace import Workspace

D, N, K = 384, 3072, 32
ANN_SETTINGS: list[tuple[str, dict[str, int]]] = [
    ("hnsw", {"m": 32, "ef_construction": 80, "effort": 64}), ("ivf", {"effort": 16})]


class StubEmbedder:
    """Returns the next precomputed query vector, so embedding costs nothing."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = {f"q{i}": v for i, v in enumerate(vectors)}

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def synthetic_corpus(docs: int, sae: TopKSAE, seed: int = 0) -> tuple[np.ndarray, SparseCodes,
                                                                    pa.Table]:
    rng = np.random.default_rng(seed)
    frequency = 1.0 / np.arange(1, N + 1) ** 0.8
    frequency /= frequency.sum()
    indices = np.empty((docs, K), np.int32)
    for start in range(0, docs, 8192):  # Gumbel top-k: weighted sampling without replacement
        keys = np.log(frequency) + rng.gumbel(size=(min(8192, docs - start), N))
        indices[start:start + 8192] = np.argpartition(-keys, K, axis=1)[:, :K]
    values = np.sort(rng.exponential(0.15, (docs, K)).astype(np.float32), axis=1)[:, ::-1]
    emb = np.empty((docs, D), np.float32)
    with torch.no_grad():
        for start in range(0, docs, 16_384):
            stop = start + 16_384
            emb[start:stop] = sae.decode(torch.from_numpy(values[start:stop].copy()),
                                         torch.from_numpy(indices[start:stop])).numpy()
    emb += 0.02 * rng.standard_normal(emb.shape, dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    archives = np.array(["astro-ph.GA", "astro-ph.EP", "astro-ph.CO", "cs.LG", "stat.ML"])
    corpus = pa.table({
        "id": pa.array(np.arange(docs).astype(str)),
        "title": pa.array(np.char.add("doc ", np.arange(docs).astype(str))),
        "categories": pa.ListArray.from_arrays(np.arange(docs + 1, dtype=np.int32),
                                               pa.array(archives[np.arange(docs) % 5])),
        "year": pa.array((2007 + np.arange(docs) % 11).astype(np.int32)),
    })
    return emb, SparseCodes(indices, values, N), corpus


def median_ms(run: Callable[[int], object], count: int, warmup: int = 3) -> float:
    for i in range(warmup):
        run(i)
    times = []
    for i in range(count):
        start = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def recall_at_10(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)]))


def ann_rows(corpus: np.ndarray, queries: np.ndarray) -> list[tuple[str, str, str, str]]:
    """Build time, median query latency and recall@10 against exact, for each ANN setting."""
    exact_rows = make_index(corpus).search(queries, 10)[1]
    rows = []
    for kind, options in ANN_SETTINGS:
        start = time.perf_counter()
        index = make_index(corpus, kind, **options)
        build = time.perf_counter() - start
        latency = median_ms(lambda i, index=index: index.search(queries[i % len(queries)], 10),
                            len(queries))
        recall = recall_at_10(index.search(queries, 10)[1], exact_rows)
        rows.append((f"{kind} {options}", f"{build:.1f}", f"{latency:.2f}", f"{recall:.3f}"))
    return rows


def print_table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    print(f"\n{title}\n")
    print("| what | build (s) | latency (ms) | recall@10 vs exact |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


class CachedVectors:
    """Embeds each text once, before timing starts."""

    def __init__(self, embedder: object, texts: list[str]) -> None:
        vectors = embedder.embed(texts)  # type: ignore[attr-defined]
        self.vectors = dict(zip(texts, vectors, strict=True))

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def workspace_rows(root: str, rounds: int) -> tuple[str, list[tuple[str, str, str, str]]]:
    """p50 latency of plain / vector-steered / hybrid-steered search on a real workspace."""
    ws = Workspace.open(root)
    texts = [text for name in ("astro", "ml") for text, _ in load_query_set(name).queries]
    searcher = stages.searcher(ws, embedder=CachedVectors(stages.query_embedder(ws), texts))
    density = searcher.features.density
    cases = [case for name in ("astro", "ml") for case in draw_cases(
        searcher, load_query_set(name), np.flatnonzero(density > 0).tolist())]
    variants = {
        "no edits": lambda c: searcher.search(c.query),
        "raise + lower, vector only (blend 0)":
            lambda c: searcher.search(c.query, [up(c.raised), down(c.lowered)], blend=0.0),
        "raise + lower, hybrid (default: adaptive pool)":
            lambda c: searcher.search(c.query, [up(c.raised), down(c.lowered)]),
        "raise + lower, hybrid, fixed pool of 275 (previous default)":
            lambda c: searcher.search(c.query, [up(c.raised), down(c.lowered)], pool=275),
        "raise + lower, hybrid over the whole corpus":
            lambda c: searcher.search(c.query, [up(c.raised), down(c.lowered)],
                                      blend=GLOBAL_BLEND, pool=None),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(rounds):
        for position, case in enumerate(cases):
            names = list(variants)
            shift = (position + round_) % len(names)  # rotate who goes first
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                variants[name](case)
                times[name].append(time.perf_counter() - start)
    title = (f"workspace {root}: {searcher.corpus.num_rows:,} abstracts, SAE n="
             f"{searcher.sae.config.n}, {len(cases)} queries × {rounds} rounds interleaved, "
             f"{torch.get_num_threads()} torch threads; p50 per query")
    plain = float(np.median(times["no edits"]))
    rows = [(f"exact {name} (× {float(np.median(t)) / plain:.2f} plain)", "-",
             f"{1000 * float(np.median(t)):.1f}", "-") for name, t in times.items()]
    return title, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--embed", action="store_true", help="also time MiniLM query embedding")
    parser.add_argument("--real", nargs="?", const="shipped", default=None,
                        help="also measure ANN recall on real embeddings: this .npy, or by "
                             "default the shared data's MiniLM vectors")
    parser.add_argument("--workspace", help="also time steered search on this workspace")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the query sets")
    parser.add_argument("--skip-synthetic", action="store_true",
                        help="skip the 300k synthetic corpus")
    args = parser.parse_args()
    if args.workspace:
        print_table(*workspace_rows(args.workspace, args.rounds))
    if args.skip_synthetic:
        return

    sae = TopKSAE(SAEConfig(d=D, n=N, k=K), seed=0).eval()
    emb, codes, corpus = synthetic_corpus(args.docs, sae)
    rng = np.random.default_rng(1)
    picks = rng.choice(args.docs, args.queries, replace=False)
    queries = emb[picks] + 0.03 * rng.standard_normal((args.queries, D), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    searcher = Searcher(emb, corpus, sae, codes, StubEmbedder(queries))
    edit = [up(int(np.argmax(searcher.features.density[100:] > 0.005)) + 100)]
    filters = Filters.from_cli("2010-2014", ["astro-ph"])
    rows: list[tuple[str, str, str, str]] = []

    def q(i: int) -> str:
        return f"q{i % args.queries}"

    rank_ms = median_ms(lambda i: searcher.rank(queries[i % args.queries], 10), args.queries)
    rows.append(("exact rank() only", "-", f"{rank_ms:.1f}", "1.000"))
    for label, run in [
        ("search(), no edits", lambda i: searcher.search(q(i))),
        ("search(), 1 raise, vector only (blend 0)",
         lambda i: searcher.search(q(i), edit, blend=0.0)),
        ("search(), 1 raise, hybrid (default blend)", lambda i: searcher.search(q(i), edit)),
        ("search(), 1 edit (clamp)", lambda i: searcher.search(q(i), edit, mode="clamp")),
        ("search(), 1 edit + year/category filter", lambda i: searcher.search(q(i), edit,
                                                                           filters=filters)),
    ]:
        rows.append((f"exact {label}", "-", f"{median_ms(run, args.queries):.1f}", "1.000"))

    steered = np.stack([searcher.steer(q(i), edit)[2].vector for i in range(args.queries)])
    rows += ann_rows(emb, steered)

    if args.embed:
        from disentangle.embed.minilm import MiniLMEmbedder

        embedder = MiniLMEmbedder()
        texts = [f"dark matter halo density profile number {i}" for i in range(args.queries)]
        rows.append(("MiniLM query embedding (onnx)", "-",
                     f"{median_ms(lambda i: embedder.embed([texts[i % len(texts)]]), 20):.1f}",
                     "-"))

    print_table(f"{args.docs:,} synthetic docs × d={D}, SAE n={N} k={K}, {args.queries} "
                f"queries, {torch.get_num_threads()} torch threads; median latency per query",
                rows)
    if args.real:
        path = shipped_embeddings() if args.real == "shipped" else args.real
        real = np.asarray(np.load(path, mmap_mode="r"), dtype=np.float32)
        corpus, held_out = real[:-args.queries], real[-args.queries:]
        print_table(f"real MiniLM embeddings: {len(corpus):,} abstracts, {len(held_out)} "
                    "held-out abstracts as queries", ann_rows(corpus, held_out))


if __name__ == "__main__":
    main()
