"""Feature co-occurrence from top-k codes, computed sparsely in blocks of feature rows.

The paper's code builds a dense ``documents × n`` activation matrix (about 15 GB for astro-ph
SAE64). Top-k codes hold only k nonzeros per document, so ``C = AᵀA`` is a sparse product; we
compute it a block of feature rows at a time (``A[:, block]ᵀ @ A``) and, for the family graph,
only the upper triangle, which halves the work because ``C`` is symmetric.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import sparse

from disentangle.codes import SparseCodes
from disentangle.errors import DisentangleError

Weighting = Literal["binary", "activation"]

DEFAULT_THRESHOLD = 0.1
"""Edges weaker than this are dropped before the spanning tree (the paper's code uses 0.1)."""


def feature_counts(codes: SparseCodes) -> np.ndarray:
    """``N_i``: number of documents where each feature is active (the diagonal of binary C)."""
    active = np.asarray(codes.values).ravel() > 0
    return np.bincount(np.asarray(codes.indices).ravel()[active],
                       minlength=codes.n_features).astype(np.int64)


def activity_matrix(codes: SparseCodes, weighting: Weighting = "binary") -> sparse.csr_matrix:
    """``A`` as CSR: 0/1 activity, or activations with every feature column L2-normalised.

    With normalised columns ``AᵀA`` is the cosine similarity of the features' activation
    profiles (the paper's "activation similarity" variant).
    """
    if weighting == "binary":
        return codes.to_csr(binary=True)
    if weighting != "activation":
        raise DisentangleError(f"unknown weighting {weighting!r}; use 'binary' or 'activation'")
    matrix = codes.to_csr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (matrix @ sparse.diags(inverse.astype(np.float32))).tocsr()


def cooccurrence(
    codes: SparseCodes,
    weighting: Weighting = "binary",
    upper: bool = False,
    chunk: int = 1024,
) -> sparse.csr_matrix:
    """``C = AᵀA`` (``n × n``, float32), built ``chunk`` feature rows at a time.

    ``upper=True`` returns only the upper triangle (diagonal included): half the work and
    memory, and all the family graph needs. Binary counts are exact in float32 below 2**24.
    """
    if chunk < 1:
        raise DisentangleError(f"chunk must be positive, got {chunk}; pass chunk >= 1")
    rows_major = activity_matrix(codes, weighting)
    cols_major = rows_major.tocsc()
    n = codes.n_features
    parts: list[sparse.csr_matrix] = []
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        right = rows_major[:, lo:] if upper else rows_major
        block = (cols_major[:, lo:hi].T.tocsr() @ right).tocsr()
        if upper:
            # Shift columns back to global ids, then keep global col >= global row (lo + r).
            block = sparse.csr_matrix((block.data, block.indices + lo, block.indptr),
                                      shape=(hi - lo, n))
            block = sparse.triu(block, k=lo, format="csr")
        parts.append(block)
    if not parts:
        return sparse.csr_matrix((n, n), dtype=np.float32)
    return sparse.vstack(parts, format="csr").astype(np.float32)


def normalised_weights(
    cooc: sparse.spmatrix, counts: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> sparse.csr_matrix:
    """Symmetric edge weights ``W[i, j] = C[i, j] / (min(N_i, N_j) + 1)``, thresholded.

    The paper normalises rows, ``C̃[i, j] = C[i, j] / (N_i + 1)``, which is asymmetric, yet an
    undirected spanning tree needs one weight per pair. We take ``max(C̃[i, j], C̃[j, i])``:
    the share of the sparser feature's documents where the denser one also fires, which is
    exactly the "child inside parent" relation the tree encodes. Entries below ``threshold``
    and the diagonal are dropped. Accepts a full or upper-triangular ``C``; the output keeps
    its shape. (The paper optionally exponentiates kept weights; exp is monotone, so the
    maximum spanning tree is unchanged and we skip it.)
    """
    coo = sparse.coo_matrix(cooc)
    counts = np.asarray(counts, dtype=np.float64)
    weight = coo.data / (np.minimum(counts[coo.row], counts[coo.col]) + 1.0)
    keep = (weight >= threshold) & (coo.row != coo.col)
    return sparse.csr_matrix(
        (weight[keep].astype(np.float32), (coo.row[keep], coo.col[keep])), shape=coo.shape
    )


def edge_weights(
    codes: SparseCodes, weighting: Weighting = "binary", threshold: float = DEFAULT_THRESHOLD
) -> sparse.csr_matrix:
    """Upper-triangular family-graph weights for either co-occurrence variant.

    Binary: ``normalised_weights`` of the counts. Activation: ``AᵀA`` of L2-normalised columns
    is already a cosine in [0, 1], so dividing by ``N_i + 1`` again would shrink every weight
    below the threshold; the cosine itself is thresholded instead.
    """
    cooc = cooccurrence(codes, weighting, upper=True)
    if weighting == "binary":
        return normalised_weights(cooc, feature_counts(codes), threshold)
    return normalised_weights(cooc, np.zeros(codes.n_features), threshold)


def clean_mask(
    density: np.ndarray,
    pearson: np.ndarray | None = None,
    f1: np.ndarray | None = None,
    max_density: float = 0.2,
    min_score: float = 0.8,
) -> np.ndarray:
    """Features that may enter families: interpretable (Pearson and F1 ≥ ``min_score`` when
    scores are given) and not near-ubiquitous (density < ``max_density``), as in the paper."""
    mask = np.asarray(density) < max_density
    for score in (pearson, f1):
        if score is not None:
            mask &= np.nan_to_num(np.asarray(score, dtype=np.float64), nan=-np.inf) >= min_score
    return mask


def restrict(matrix: sparse.spmatrix, mask: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Sub-matrix on the features in ``mask``, with the global ids of its rows/columns."""
    nodes = np.flatnonzero(mask)
    return sparse.csr_matrix(matrix)[nodes][:, nodes], nodes
