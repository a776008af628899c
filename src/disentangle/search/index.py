"""Dense top-k retrieval by inner product over unit rows (= cosine), exact or approximate.

The exact index is a blocked matrix product plus ``argpartition``: memory-bound, a few tens of
milliseconds for 300k × 384 on two cores, and needs no build step. The FAISS indexes (HNSW,
IVF) trade a build and some recall for sub-millisecond queries on corpora where the scan is
too slow; the benchmark measures their recall against the exact index.

A boolean row mask restricts ranking to allowed rows. A selective mask is served by scoring
only the allowed rows exactly (cheaper than the full scan, and ANN graphs degrade under
strict filters); a loose mask is passed to FAISS as an ID selector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from disentangle.errors import DisentangleError
from disentangle.io import DamagedFile, atomic_path, checked_read

BLOCK_ROWS = 65_536
SUBSET_FRACTION = 0.1
"""A mask allowing at most this fraction of rows is served by scoring just those rows."""

IndexKind = Literal["exact", "hnsw", "ivf", "ivfpq"]
FaissKind = Literal["hnsw", "ivf", "ivfpq"]


class VectorIndex(Protocol):
    def search(self, queries: np.ndarray, k: int,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)``, each ``[queries, k]``, best first; row ``-1`` pads short lists."""
        ...


def _as_matrix(queries: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` columns of each row of ``scores`` ``[m, c]``, sorted descending."""
    columns = scores.shape[1]
    if k < columns:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(columns), scores.shape).copy()
    top = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(part, order, axis=1)


def _pad(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad to ``k`` columns and mark masked-out (``-inf``) slots with row ``-1``."""
    rows = np.where(np.isfinite(scores), rows, -1)
    if scores.shape[1] < k:
        extra = k - scores.shape[1]
        scores = np.pad(scores, ((0, 0), (0, extra)), constant_values=-np.inf)
        rows = np.pad(rows, ((0, 0), (0, extra)), constant_values=-1)
    return scores.astype(np.float32), rows.astype(np.int64)


def exact_subset(embeddings: np.ndarray, queries: np.ndarray, k: int,
                 allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k over the rows listed in ``allowed`` only."""
    q = _as_matrix(queries)
    if allowed.size == 0:
        return _pad(np.empty((q.shape[0], 0), np.float32), np.empty((q.shape[0], 0)), k)
    scores = np.asarray(embeddings[allowed], dtype=np.float32) @ q.T
    top, cols = top_k(scores.T, k)
    return _pad(top, allowed[cols], k)


class ExactIndex:
    """Brute-force inner product in row blocks, keeping a running top-k per block."""

    def __init__(self, embeddings: np.ndarray, block_rows: int = BLOCK_ROWS) -> None:
        if embeddings.dtype != np.float32:
            embeddings = embeddings.astype(np.float32)
        self.embeddings = embeddings
        self.block_rows = block_rows

    def __len__(self) -> int:
        return self.embeddings.shape[0]

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Float32 ``[documents]`` inner products of one query with every row."""
        q = _as_matrix(query)[0]
        out = np.empty(len(self), np.float32)
        for start in range(0, len(self), self.block_rows):
            stop = min(start + self.block_rows, len(self))
            out[start:stop] = self.embeddings[start:stop] @ q
        return out

    def search(self, queries: np.ndarray, k: int,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = _as_matrix(queries)
        count = len(self)
        if mask is not None and mask.sum() <= SUBSET_FRACTION * count:
            return exact_subset(self.embeddings, q, k, np.flatnonzero(mask))
        best_scores, best_rows = [], []
        for start in range(0, count, self.block_rows):
            stop = min(start + self.block_rows, count)
            scores = (self.embeddings[start:stop] @ q.T).T
            if mask is not None:
                scores[:, ~mask[start:stop]] = -np.inf
            top, cols = top_k(scores, k)
            best_scores.append(top)
            best_rows.append(cols + start)
        scores, rows = np.concatenate(best_scores, axis=1), np.concatenate(best_rows, axis=1)
        top, cols = top_k(scores, k)
        return _pad(top, np.take_along_axis(rows, cols, axis=1), k)


DEFAULT_EFFORT = {"hnsw": 64, "ivf": 16, "ivfpq": 32}
"""efSearch / nprobe: recall@10 0.998 / 0.976 on real MiniLM abstracts (docs/benchmarks.md);
IVF-PQ's nprobe is measured at 1M–4M rows in docs/scaling.md."""


class FaissIndex:
    """Approximate inner-product search with FAISS (HNSW graph or IVF-flat clusters).

    ``effort`` is ``efSearch`` for HNSW and ``nprobe`` for IVF: higher is slower and more exact.
    Building takes a while on large corpora (about a minute for 300k × 384 HNSW on 2 cores),
    so an index can be saved and loaded instead of rebuilt.
    """

    memory_mapped = False
    """Whether :meth:`load` maps the index file instead of reading it into memory."""

    def __init__(self, index: Any, embeddings: np.ndarray, kind: FaissKind,
                 effort: int | None = None) -> None:
        import faiss

        if index.ntotal != embeddings.shape[0]:
            raise DisentangleError(f"the {kind} index holds {index.ntotal} vectors but there "
                                   f"are {embeddings.shape[0]} embeddings; rebuild the index")
        self._faiss = faiss
        self.index = index
        self.embeddings = embeddings
        self.kind = kind
        self.effort = effort or DEFAULT_EFFORT[kind]

    @classmethod
    def build(cls, embeddings: np.ndarray, kind: Literal["hnsw", "ivf"] = "hnsw",
              m: int = 32, ef_construction: int = 80, effort: int | None = None,
              nlist: int | None = None, seed: int = 0) -> FaissIndex:
        import faiss

        data = np.ascontiguousarray(embeddings, dtype=np.float32)
        count, d = data.shape
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
        elif kind == "ivf":
            nlist = nlist or max(1, int(4 * np.sqrt(count)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(seed).choice(count, min(count, 64 * nlist),
                                                        replace=False)
            index.train(data[np.sort(sample)])
        else:
            raise DisentangleError(f"unknown ANN kind {kind!r}; use hnsw or ivf")
        index.add(data)
        return cls(index, embeddings, kind, effort)

    def save(self, path: Path) -> None:
        """Write the index atomically (FAISS's own format)."""
        with atomic_path(path) as tmp:
            self._faiss.write_index(self.index, str(tmp))

    @classmethod
    def load(cls, path: Path, embeddings: np.ndarray, kind: FaissKind,
             effort: int | None = None) -> FaissIndex:
        import faiss

        flags = faiss.IO_FLAG_MMAP if cls.memory_mapped else 0
        index = checked_read(path, lambda p: faiss.read_index(str(p), flags), (RuntimeError,))
        if index.ntotal != len(embeddings):
            raise DamagedFile(path, f"{index.ntotal} vectors for {len(embeddings)} embeddings")
        return cls(index, embeddings, kind, effort)

    def __len__(self) -> int:
        return self.index.ntotal

    def _params(self, mask: np.ndarray | None) -> object:
        faiss = self._faiss
        selector = None
        if mask is not None:
            self._bitmap = np.packbits(mask, bitorder="little")  # kept alive during search
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(self._bitmap))
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(efSearch=self.effort, sel=selector)
        return faiss.SearchParametersIVF(nprobe=self.effort, sel=selector)

    def search(self, queries: np.ndarray, k: int,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = _as_matrix(queries)
        if mask is not None and mask.sum() <= SUBSET_FRACTION * len(self):
            return exact_subset(self.embeddings, q, k, np.flatnonzero(mask))
        scores, rows = self.index.search(q, k, params=self._params(mask))
        scores = np.where(rows >= 0, scores, -np.inf)
        return _pad(scores, rows, k)


def make_index(embeddings: np.ndarray, kind: IndexKind = "exact", **options: int) -> VectorIndex:
    """The index named by ``kind``; ``options`` go to :class:`FaissIndex` for ANN kinds."""
    if kind == "exact":
        return ExactIndex(embeddings)
    if kind in ("hnsw", "ivf"):
        return FaissIndex.build(embeddings, kind=kind, **options)
    if kind == "ivfpq":
        from disentangle.search.ondisk import IVFPQIndex

        return IVFPQIndex.build_chunked(embeddings, **options)
    raise DisentangleError(f"unknown index {kind!r}; use exact, hnsw, ivf or ivfpq")
