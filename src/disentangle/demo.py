"""``disentangle demo``: every stage on real arXiv abstracts, with a compact report.

Default data: the astro-ph and cs.LG/stat.ML abstracts of 2007–2017 whose MiniLM embeddings
ship precomputed in ``shared/data/embeddings-minilm`` (so the demo need not embed for hours),
plus a slice of 2024–2026 cs.LG/stat.ML abstracts embedded live, which exercises the real
embedder and measures its throughput. ``--corpus`` runs the same steps on any other file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from disentangle.corpus import CorpusFilter, LoadReport, load_corpus
from disentangle.embed.specs import Precomputed
from disentangle.errors import DisentangleError

OLD_CORPUS = "arxiv-astro-cs-2007-2017/arxiv_oai_astro_cs_2007-2017.jsonl.gz"
NEW_CORPUS = "arxiv-csai-2024-2026/arxiv_csAI_listing_2024-2026.jsonl.gz"
PRECOMPUTED = "embeddings-minilm"
DEMO_CATEGORIES = ("astro-ph", "cs.LG", "stat.ML")
EXAMPLE_QUERIES = ("dark matter halo substructure",
                   "graph neural networks for molecular property prediction")


@dataclass(frozen=True)
class DemoData:
    """Where the demo's inputs live and how much of them to use."""

    data_dir: Path
    size: int | None = None
    """Documents from the precomputed set (default: all of them, 89,209 since 2026-12-02)."""
    modern: int = 600
    """Recent cs.LG/stat.ML abstracts embedded live (measures embedding throughput)."""
    corpus: Path | None = None
    """Any other corpus file instead of the shared data (embedded live)."""
    seed: int = 0


def find_data_dir(explicit: Path | None) -> Path:
    """The shared data folder: ``--data-dir``, ``$DISENTANGLE_DATA``, or ``../shared/data``."""
    candidates = [explicit] if explicit else []
    if os.environ.get("DISENTANGLE_DATA"):
        candidates.append(Path(os.environ["DISENTANGLE_DATA"]))
    candidates += [Path.cwd().parent / "shared" / "data",
                   Path(__file__).resolve().parents[3] / "shared" / "data"]
    for candidate in candidates:
        if (candidate / OLD_CORPUS).exists():
            return candidate
    raise DisentangleError(f"shared arXiv data not found (looked in "
                           f"{', '.join(str(c) for c in candidates)}); pass --data-dir or "
                           "--corpus FILE")


def shipped_embeddings(data_dir: Path | None = None) -> Path:
    """The precomputed MiniLM embeddings in the shared data (benchmarks use them as real
    vectors); a one-line error when the shared data is not found."""
    return find_data_dir(data_dir) / PRECOMPUTED / "embeddings.npy"


def load_demo_corpus(data: DemoData) -> tuple[LoadReport, list[str], Precomputed | None]:
    """The demo corpus, the paths it came from, and the precomputed-embedding spec if used."""
    if data.corpus is not None:
        filters = CorpusFilter(sample=data.size, seed=data.seed) if data.size else CorpusFilter()
        return load_corpus(data.corpus, filters=filters), [str(data.corpus)], None
    vectors_dir = data.data_dir / PRECOMPUTED
    ids = frozenset((vectors_dir / "ids.txt").read_text().split())
    old = load_corpus(data.data_dir / OLD_CORPUS, filters=CorpusFilter(
        ids=ids, sample=data.size, seed=data.seed))
    reports = [old]
    sources = [str(data.data_dir / OLD_CORPUS)]
    if data.modern > 0:
        reports.append(load_corpus(data.data_dir / NEW_CORPUS, filters=CorpusFilter(
            categories=("cs.LG", "stat.ML"), sample=data.modern, seed=data.seed)))
        sources.append(str(data.data_dir / NEW_CORPUS))
    spec = Precomputed(shipped_embeddings(data.data_dir), vectors_dir / "ids.txt")
    return merge_reports(reports), sources, spec


def merge_reports(reports: list[LoadReport]) -> LoadReport:
    """Concatenate corpora loaded with different filters (ids must not repeat)."""
    table = pa.concat_tables([r.table for r in reports])
    if len(set(table.column("id").to_pylist())) != table.num_rows:
        raise DisentangleError("the demo corpora share document ids; pass --corpus instead")
    return LoadReport(table=table, read=sum(r.read for r in reports),
                      skipped_bad=sum(r.skipped_bad for r in reports),
                      duplicates=sum(r.duplicates for r in reports),
                      filtered_out=sum(r.filtered_out for r in reports))


def category_counts(corpus: pa.Table) -> dict[str, int]:
    """Documents per demo group (primary category), for the report."""
    groups = {"astro-ph": 0, "cs.LG / stat.ML": 0, "other": 0}
    for primary, categories in zip(corpus.column("primary_category").to_pylist(),
                                   corpus.column("categories").to_pylist(), strict=True):
        if primary.startswith("astro-ph"):
            groups["astro-ph"] += 1
        elif {"cs.LG", "stat.ML"} & set(categories):
            groups["cs.LG / stat.ML"] += 1
        else:
            groups["other"] += 1
    return groups


def coherent_features(stats: pa.Table, embeddings: np.ndarray, count: int = 5,
                      top: int = 5, min_density: float = 5e-4,
                      max_density: float = 0.05) -> list[int]:
    """Features whose top documents are most alike (mean pairwise cosine), for the report.

    A selection rule, stated so the report is honest: among features of moderate density,
    the ones whose ``top`` strongest documents have the highest mean pairwise cosine, taking
    at most one feature per shared top document so the examples differ.
    """
    density = stats.column("density").to_numpy()
    top_rows = stats.column("top_rows").to_pylist()
    scored = []
    for feature in np.flatnonzero((density >= min_density) & (density <= max_density)):
        rows = sorted(top_rows[feature][:top])
        if len(rows) < top:
            continue
        vectors = np.asarray(embeddings[rows], dtype=np.float32)
        sims = vectors @ vectors.T
        scored.append((float((sims.sum() - np.trace(sims)) / (top * (top - 1))), int(feature)))
    chosen: list[int] = []
    seen: set[int] = set()
    for _, feature in sorted(scored, reverse=True):
        rows = set(top_rows[feature][:top])
        if rows & seen:
            continue
        chosen.append(feature)
        seen |= rows
        if len(chosen) == count:
            break
    return chosen
