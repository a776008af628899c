"""Sparse codes: every document as its top-k SAE features, and per-feature statistics.

Codes are stored as two ``[documents, width]`` arrays (feature indices and activations),
which is ``width`` numbers per document instead of ``n``. The width is what the SAE's
``encode`` returns: ``k`` for top-k and Matryoshka, more for BatchTopK, whose rows have a
variable number of active features and are padded with zero activations. Everything
downstream (labels, families, search explanations) reads these arrays or the CSR matrix
built from them, and skips zero activations; no stage ever needs a dense ``documents × n``
matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from scipy import sparse

from disentangle.io import DamagedFile, load_npy, read_json, save_npy, write_json
from disentangle.sae.model import TopKSAE
from disentangle.threads import torch_threads_for
from disentangle.workspace import SAEFolder

ENCODE_BATCH = 1024
"""Rows per encoded batch: small enough that the thread-count trials of
``threads.ThreadChooser`` (7 batches) are a small part of a typical corpus, large enough to
keep the encoder product efficient."""


@dataclass
class SparseCodes:
    """Top features of each document. ``values`` are post-ReLU, so a slot may hold 0 (an
    inactive slot, to be ignored like any zero activation)."""

    indices: np.ndarray
    """int32 ``[documents, width]``: feature ids, strongest first."""
    values: np.ndarray
    """float32 ``[documents, width]``: activations, aligned with ``indices``."""
    n_features: int

    def __len__(self) -> int:
        return self.indices.shape[0]

    def to_csr(self, binary: bool = False) -> sparse.csr_matrix:
        """``[documents, n_features]`` CSR matrix of activations (or 0/1 activity)."""
        rows = np.repeat(np.arange(len(self), dtype=np.int64), self.indices.shape[1])
        vals = np.asarray(self.values, dtype=np.float32).ravel()
        keep = vals > 0
        data = np.ones(int(keep.sum()), np.float32) if binary else vals[keep]
        return sparse.csr_matrix(
            (data, (rows[keep], np.asarray(self.indices).ravel()[keep])),
            shape=(len(self), self.n_features),
        )

    def save(self, folder: SAEFolder) -> None:
        """Write the codes into an SAE's folder (the metadata last: it marks them whole)."""
        save_npy(folder.codes_indices_path, np.ascontiguousarray(self.indices, dtype=np.int32))
        save_npy(folder.codes_values_path, np.ascontiguousarray(self.values, dtype=np.float32))
        write_json(folder.codes_meta_path, {"n_features": self.n_features,
                                            "documents": len(self),
                                            "width": int(self.indices.shape[1]),
                                            "mean_active": self.mean_active()})

    def mean_active(self) -> float:
        """Mean number of active features per document: ``k`` for top-k codes unless some
        activations are exactly 0; BatchTopK's zero-padded codes average near ``k``."""
        return float((np.asarray(self.values) > 0).sum(axis=1).mean()) if len(self) else 0.0

    @classmethod
    def load(cls, folder: SAEFolder) -> SparseCodes:
        """Memory-mapped codes of an SAE's folder, checked against their metadata."""
        meta = read_json(folder.codes_meta_path)
        indices = load_npy(folder.codes_indices_path)
        values = load_npy(folder.codes_values_path)
        try:
            n_features, documents = int(meta["n_features"]), int(meta["documents"])
        except (KeyError, TypeError, ValueError) as error:
            raise DamagedFile(folder.codes_meta_path, f"no valid {error}") from None
        for path, array in ((folder.codes_indices_path, indices),
                            (folder.codes_values_path, values)):
            if array.ndim != 2 or array.shape[0] != documents:
                raise DamagedFile(path, f"shape {array.shape}, but "
                                  f"{folder.codes_meta_path.name} says {documents} documents")
        return cls(indices, values, n_features)


CODE_SHARD_ROWS = 65_536
"""Rows per code shard of a resumable encode run (``shard_ranges``): an interrupted run loses
at most one shard, a few seconds of work per core."""


def shard_ranges(count: int, shard_rows: int = CODE_SHARD_ROWS) -> list[tuple[int, int]]:
    """``(first, stop)`` row ranges of every shard of ``count`` documents."""
    return [(first, min(first + shard_rows, count)) for first in range(0, count, shard_rows)]


def encode_embeddings(
    sae: TopKSAE,
    embeddings: np.ndarray,
    batch_size: int = ENCODE_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> SparseCodes:
    """Encode ``[documents, d]`` embeddings (a memory map is fine) batch by batch."""
    ((_, codes),) = encode_shards(sae, embeddings, [(0, embeddings.shape[0])], batch_size,
                                  on_batch)
    return codes


@torch.no_grad()
def encode_shards(
    sae: TopKSAE,
    embeddings: np.ndarray,
    shards: Sequence[tuple[int, int]],
    batch_size: int = ENCODE_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, SparseCodes]]:
    """``(first, codes of rows first:stop)`` for each shard in turn, batch by batch inside
    it, so the codes of a shard do not depend on which process or machine encodes it."""
    sae.eval()
    device = sae.b_pre.device
    # Encoding zero rows gives the code width without computing anything.
    width = sae.encode(torch.zeros(0, sae.config.d, device=device)).indices.shape[1]
    # Batches are alike, so their times pick the thread count (threads.ThreadChooser); an
    # encoder product and a top-k give the same bits at any count.
    with torch_threads_for(device) as chooser:
        for first, stop in shards:
            indices = np.empty((stop - first, width), dtype=np.int32)
            values = np.empty((stop - first, width), dtype=np.float32)
            for start in range(first, stop, batch_size):
                end = min(start + batch_size, stop)
                batch = torch.from_numpy(np.array(embeddings[start:end], np.float32))
                with chooser.timed():
                    code = sae.encode(batch.to(device))
                indices[start - first:end - first] = code.indices.cpu().numpy()
                values[start - first:end - first] = code.values.float().cpu().numpy()
                if on_batch is not None:
                    on_batch(end - start)
            yield first, SparseCodes(indices, values, sae.config.n)


def codes_table(codes: SparseCodes) -> pa.Table:
    """One shard of codes as a table (fixed-size lists), for a resumable run's batch files."""
    width = codes.indices.shape[1]
    return pa.table({
        "indices": pa.FixedSizeListArray.from_arrays(pa.array(codes.indices.ravel()), width),
        "values": pa.FixedSizeListArray.from_arrays(pa.array(codes.values.ravel()), width),
    })


def codes_from_tables(tables: Sequence[pa.Table], width: int, n_features: int) -> SparseCodes:
    """The codes of shard tables (from ``codes_table``) concatenated in the order given."""
    def column(name: str, dtype: type) -> np.ndarray:
        parts = [t.column(name).combine_chunks().flatten().to_numpy() for t in tables]
        flat = np.concatenate(parts) if parts else np.empty(0, dtype)
        return flat.astype(dtype, copy=False).reshape(-1, width)

    return SparseCodes(column("indices", np.int32), column("values", np.float32), n_features)


def feature_stats(codes: SparseCodes, top_n: int = 20) -> pa.Table:
    """Per-feature density, mean and max activation, and top documents (row numbers).

    - ``density``: fraction of documents where the feature is active (activation > 0).
    - ``mean_activation``: mean activation over the documents where it is active.
    - ``top_rows`` / ``top_values``: the ``top_n`` documents with the largest activation.
    """
    matrix = codes.to_csr().tocsc()
    count = max(len(codes), 1)
    nnz = np.diff(matrix.indptr)
    sums = np.asarray(matrix.sum(axis=0)).ravel()
    density = nnz / count
    mean_activation = np.divide(sums, nnz, out=np.zeros_like(sums), where=nnz > 0)
    max_activation = np.zeros(codes.n_features, np.float32)
    top_rows: list[list[int]] = []
    top_values: list[list[float]] = []
    for feature in range(codes.n_features):
        lo, hi = matrix.indptr[feature], matrix.indptr[feature + 1]
        rows, vals = matrix.indices[lo:hi], matrix.data[lo:hi]
        order = np.argsort(-vals, kind="stable")[:top_n]
        top_rows.append(rows[order].tolist())
        top_values.append(vals[order].tolist())
        if hi > lo:
            max_activation[feature] = vals.max()
    return pa.table({
        "feature": pa.array(np.arange(codes.n_features, dtype=np.int32)),
        "density": pa.array(density.astype(np.float64)),
        "mean_activation": pa.array(mean_activation.astype(np.float32)),
        "max_activation": pa.array(max_activation),
        "top_rows": pa.array(top_rows, type=pa.list_(pa.int32())),
        "top_values": pa.array(top_values, type=pa.list_(pa.float32())),
    })


COHERENCE_BASELINE_PAIRS = 4096
"""Random document pairs behind the baseline of :func:`topic_coherence`: enough for a mean
steady to about 2 %, a few milliseconds of work."""


def topic_coherence(codes: SparseCodes, top_rows: Sequence[Sequence[int]],
                    seed: int = 0) -> np.ndarray:
    """How much a feature's top documents share their *other* features, as a multiple of
    what random documents share.

    For each feature: the mean Jaccard overlap, over all pairs of its top documents, of the
    sets of other features active in them, divided by the same mean over random document
    pairs. A feature about a topic fires on documents that also share that topic's other
    features (≈ 4–6× random on the demo SAEs); one that fires on a word used in unrelated
    fields ("pressure", "core", "MIR") or on no common theme shares little more than random
    documents do (≈ 2×). Dividing by the random baseline makes the number comparable across
    SAE widths and ``k``. NaN for features with fewer than two top documents.
    """
    active = codes.to_csr(binary=True)
    coherence = np.full(len(top_rows), np.nan)
    for feature, rows in enumerate(top_rows):
        if len(rows) >= 2:
            coherence[feature] = _mean_jaccard(active[np.asarray(rows)], feature)
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, len(codes), size=(COHERENCE_BASELINE_PAIRS, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    first, second = active[pairs[:, 0]], active[pairs[:, 1]]
    shared = np.asarray(first.multiply(second).sum(axis=1)).ravel()
    union = np.asarray(first.sum(axis=1) + second.sum(axis=1)).ravel() - shared
    baseline = float(np.mean(shared / np.maximum(union, 1)))
    return coherence / baseline if baseline > 0 else coherence


def _mean_jaccard(active_rows: sparse.csr_matrix, feature: int) -> float:
    """Mean pairwise Jaccard overlap of the rows' active sets, ``feature`` itself left out."""
    rows = active_rows.copy()
    rows.data[rows.indices == feature] = 0
    rows.eliminate_zeros()
    shared = (rows @ rows.T).toarray()
    sizes = np.diag(shared)
    union = sizes[:, None] + sizes[None, :] - shared
    overlap = shared / np.maximum(union, 1)
    n = rows.shape[0]
    return float((overlap.sum() - np.trace(overlap)) / (n * n - n))
