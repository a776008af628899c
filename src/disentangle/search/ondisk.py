"""IVF-PQ search for corpora of millions: compressed codes memory-mapped from the index file,
candidates re-ranked exactly from the memory-mapped embeddings.

At 10M × 384 float32 the embeddings are 15 GB, and HNSW or IVF-flat keep a copy of them in
memory. IVF-PQ stores ``m`` bytes per vector (48 for 384-d: 480 MB at 10M); FAISS opens the
file with ``IO_FLAG_MMAP``, so inverted lists are paged in as queries touch them. The product
quantizer only proposes ``RERANK × k`` candidates: their exact cosines are read from the
embeddings (a memory map), so returned scores are exact and PQ error costs recall only when a
true neighbour is not among the candidates.

The build is chunked and resumable: a sample of rows trains the coarse and product quantizers,
each chunk of rows is added to a copy of the trained index and saved as a part, and the parts
are merged. Memory during a build is the training sample, one chunk, and the merged codes
(``N · (m + 8)`` bytes), never the float embeddings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from disentangle.errors import DisentangleError
from disentangle.io import atomic_path, checked_read
from disentangle.search.index import SUBSET_FRACTION, FaissIndex, _as_matrix, exact_subset
from disentangle.workspace import IndexBuild

RERANK = 10
"""Candidates per wanted hit that the product quantizer proposes for exact re-ranking."""
CHUNK_ROWS = 131_072
"""Rows added per build step (192 MB of float32 at 384-d)."""
TRAIN_PER_LIST = 48
"""Training rows per coarse centroid (FAISS warns below 39)."""
KMEANS_ITERATIONS = 10


@dataclass(frozen=True)
class IVFPQSettings:
    """The shape of an IVF-PQ index: ``nlist`` coarse lists, ``m`` sub-quantizers of ``bits``
    bits each, trained on ``train_rows`` sampled rows, added ``chunk_rows`` at a time."""

    nlist: int
    m: int
    bits: int
    train_rows: int
    chunk_rows: int = CHUNK_ROWS
    seed: int = 0

    @classmethod
    def for_size(cls, count: int, d: int, chunk_rows: int = CHUNK_ROWS,
                 seed: int = 0) -> IVFPQSettings:
        """About ``2·√count`` lists (a power of two), one byte per 8 dimensions: 2048 lists
        and 48 bytes per vector for 1M × 384; fewer bits on tiny corpora, where 256 codes
        per sub-quantizer cannot be trained."""
        if count < 64:
            raise DisentangleError(f"an IVF-PQ index needs at least 64 vectors, got {count}; "
                                   "use the exact index")
        nlist = 2 ** round(math.log2(max(4.0, 2 * math.sqrt(count))))
        nlist = min(nlist, count // 16)
        m = max(q for q in range(1, max(1, d // 8) + 1) if d % q == 0)
        bits = int(min(8, math.log2(count / 16)))
        train_rows = min(count, max(TRAIN_PER_LIST * nlist, 2**bits * 40))
        return cls(nlist, m, bits, train_rows, chunk_rows, seed)

    def factory(self) -> str:
        return f"IVF{self.nlist},PQ{self.m}x{self.bits}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[int, int], None]
"""Called with (rows added, total rows) after each chunk."""


def _write(index: Any, path: Path) -> None:
    import faiss

    with atomic_path(path) as tmp:
        faiss.write_index(index, str(tmp))


def _read(path: Path, flags: int = 0) -> Any:
    import faiss

    return checked_read(path, lambda p: faiss.read_index(str(p), flags), (RuntimeError,))


def _train(embeddings: np.ndarray, settings: IVFPQSettings) -> Any:
    import faiss

    count, d = embeddings.shape
    rows = np.sort(np.random.default_rng(settings.seed).choice(count, settings.train_rows,
                                                               replace=False))
    index = faiss.index_factory(d, settings.factory(), faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = settings.seed
    index.cp.niter = KMEANS_ITERATIONS
    index.do_polysemous_training = False  # a Hamming pre-filter we never use; slow to train
    index.train(np.ascontiguousarray(embeddings[rows], dtype=np.float32))
    return index


def _add(index: Any, embeddings: np.ndarray, start: int, stop: int) -> None:
    index.add_with_ids(np.ascontiguousarray(embeddings[start:stop], dtype=np.float32),
                       np.arange(start, stop, dtype=np.int64))


def build_ivfpq(embeddings: np.ndarray, settings: IVFPQSettings,
                build: IndexBuild | None = None, progress: Progress | None = None) -> Any:
    """The trained, filled FAISS index over ``embeddings``, read chunk by chunk.

    With ``build``, the trained index and every finished chunk are saved there (atomically),
    and a re-run with the same folder skips them; the caller checks that the folder belongs to
    these embeddings and settings. Without it, chunks are added in memory.
    """
    count = embeddings.shape[0]
    starts = range(0, count, settings.chunk_rows)
    if build is None:
        index = _train(embeddings, settings)
        for start in starts:
            _add(index, embeddings, start, min(start + settings.chunk_rows, count))
            if progress:
                progress(min(start + settings.chunk_rows, count), count)
        return index
    import faiss

    if not build.trained_path.exists():
        _write(_train(embeddings, settings), build.trained_path)
    trained = _read(build.trained_path)
    for chunk, start in enumerate(starts):
        stop = min(start + settings.chunk_rows, count)
        if not build.part_path(chunk).exists():
            part = faiss.clone_index(trained)
            _add(part, embeddings, start, stop)
            _write(part, build.part_path(chunk))
        if progress:
            progress(stop, count)
    for chunk in range(len(starts)):
        trained.merge_from(_read(build.part_path(chunk)), 0)
    return trained


class IVFPQIndex(FaissIndex):
    """IVF-PQ candidates (``effort`` = nprobe lists scanned), re-ranked by exact cosine."""

    memory_mapped = True

    def __init__(self, index: Any, embeddings: np.ndarray, kind: str = "ivfpq",
                 effort: int | None = None) -> None:
        # ``kind`` keeps :meth:`FaissIndex.load`'s constructor call; it is always "ivfpq".
        super().__init__(index, embeddings, "ivfpq", effort)

    @classmethod
    def build(cls, embeddings: np.ndarray, *args: Any, **options: Any) -> IVFPQIndex:
        """Not FAISS's in-memory builders: IVF-PQ is built by :meth:`build_chunked`."""
        raise DisentangleError("build an IVF-PQ index with IVFPQIndex.build_chunked")

    @classmethod
    def build_chunked(cls, embeddings: np.ndarray, settings: IVFPQSettings | None = None,
                      build: IndexBuild | None = None, effort: int | None = None,
                      progress: Progress | None = None) -> IVFPQIndex:
        settings = settings or IVFPQSettings.for_size(*embeddings.shape)
        return cls(build_ivfpq(embeddings, settings, build, progress), embeddings,
                   effort=effort)

    def search(self, queries: np.ndarray, k: int,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = _as_matrix(queries)
        if mask is not None and mask.sum() <= SUBSET_FRACTION * len(self):
            return exact_subset(self.embeddings, q, k, np.flatnonzero(mask))
        _, candidates = self.index.search(q, RERANK * k, params=self._params(mask))
        found = [exact_subset(self.embeddings, query, k, np.unique(rows[rows >= 0]))
                 for query, rows in zip(q, candidates, strict=True)]
        return (np.concatenate([scores for scores, _ in found]),
                np.concatenate([rows for _, rows in found]))
