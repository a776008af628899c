"""Hybrid ranking: dense similarity plus a term for each edited feature, among the query's
nearest documents.

Moving the query vector alone is a blunt way to raise a topic: a decoder direction is not very
selective, so by the time enough documents carrying the feature enter the top 10 the query has
moved so far (cosine ≈ 0.7) that its own topic is gone. Concept-level sparse retrieval ranks by
the feature activations themselves; this module adds that term to the dense score::

    score(d) = ⟨q_steered, e_d⟩ + blend · Σ_f w_f · min(a_f(d) / typical_f, 1)

``w_f`` is the edit's weight (+strength for ``--up``, −1 for ``--down``, see
:meth:`ResolvedEdit.weight`), ``a_f(d)`` the document's stored activation and ``typical_f`` the
activation of the feature's typical top documents, so a document carrying the feature as
strongly as those gains (or loses) ``blend × w_f``.

The term only re-ranks the ``pool`` documents nearest the steered query (its dense top
``pool``, from whichever index serves it): a raised topic is brought in from the query's own
neighbourhood instead of from anywhere in the corpus, and "less of X" drops the neighbours
that carry X rather than whatever ranks highest without it. Ranked over the whole corpus
(``pool=None``, the rule before), a raised feature replaced the query: blind judges rated the
results' relevance 0.39 of 2 (docs/steering.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from disentangle.search.filters import FeatureIndex
from disentangle.search.index import ExactIndex, VectorIndex, top_k

DEFAULT_BLEND = 1.0
"""Score a document gains per unit of edit weight (cosine units); measured in docs/steering.md.
Within the pool, cosines differ by less than this, so a neighbour carrying a raised feature at
its typical strength comes first."""
MAX_BLEND = 2.0
DEFAULT_POOL = 275
"""How many of the steered query's nearest documents the feature terms re-rank."""
MAX_POOL = 100_000


@dataclass(frozen=True)
class FeatureTerms:
    """Rows where an edited feature is active and the term each adds to the dense score."""

    rows: np.ndarray
    """Sorted int64 corpus rows."""
    terms: np.ndarray
    """float32, aligned with ``rows``: ``blend · Σ_f w_f · min(a_f / typical_f, 1)``."""

    @classmethod
    def build(cls, features: FeatureIndex, weights: Mapping[int, float],
              typical: np.ndarray, blend: float) -> FeatureTerms:
        parts = [(*features.activations(f), w, float(typical[f]))
                 for f, w in weights.items() if w != 0.0]
        if not parts or blend == 0.0:
            return cls(np.empty(0, np.int64), np.empty(0, np.float32))
        rows = np.concatenate([p[0] for p in parts]).astype(np.int64)
        values = np.concatenate([blend * w * np.minimum(a / t, 1.0) for _, a, w, t in parts])
        unique, inverse = np.unique(rows, return_inverse=True)
        terms = np.bincount(inverse, weights=values, minlength=len(unique)).astype(np.float32)
        return cls(unique, terms)

    def __len__(self) -> int:
        return len(self.rows)


def hybrid_rank(index: VectorIndex, embeddings: np.ndarray, vector: np.ndarray, k: int,
                terms: FeatureTerms, mask: np.ndarray | None = None,
                pool: int | None = DEFAULT_POOL
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` ``(scores, rows, similarities)`` under the hybrid score, best first.

    The terms re-rank the dense top ``max(pool, k)``; ``pool=None`` scores the whole corpus.
    With no terms this is exactly ``index.search`` (plain dense search, bit for bit).
    """
    if not len(terms):
        scores, rows = index.search(vector, k, mask)
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep], scores[0][keep]
    if pool is not None:
        return _rerank_pool(index, vector, k, terms, mask, max(pool, k))
    if isinstance(index, ExactIndex) and mask is None:
        # One scan: every similarity is computed anyway, so add the terms in place.
        similarity = index.scores(vector)
        scores = similarity.copy()
        scores[terms.rows] += terms.terms
        top, rows = top_k(scores[None], k)
        return top[0], rows[0], similarity[rows[0]]
    boosted_rows, boosted_terms = terms.rows, terms.terms
    if mask is not None:
        allowed = mask[boosted_rows]
        boosted_rows, boosted_terms = boosted_rows[allowed], boosted_terms[allowed]
    rest = np.ones(embeddings.shape[0], bool) if mask is None else mask.copy()
    rest[terms.rows] = False
    dense_scores, dense_rows = index.search(vector, k, rest)
    keep = dense_rows[0] >= 0
    dense_scores, dense_rows = dense_scores[0][keep], dense_rows[0][keep]
    similarity = np.asarray(embeddings[boosted_rows], np.float32) @ np.asarray(vector, np.float32)
    return _merge(np.concatenate([dense_rows, boosted_rows]),
                  np.concatenate([dense_scores, similarity]).astype(np.float32),
                  np.concatenate([np.zeros(len(dense_rows), np.float32), boosted_terms]), k)


def _rerank_pool(index: VectorIndex, vector: np.ndarray, k: int, terms: FeatureTerms,
                 mask: np.ndarray | None, pool: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sims, rows = index.search(vector, pool, mask)
    keep = rows[0] >= 0
    sims, rows = sims[0][keep].astype(np.float32), rows[0][keep]
    where = np.minimum(np.searchsorted(terms.rows, rows), max(len(terms) - 1, 0))
    hit = terms.rows[where] == rows
    return _merge(rows, sims, np.where(hit, terms.terms[where], 0.0).astype(np.float32), k)


def _merge(rows: np.ndarray, sims: np.ndarray, boosts: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top ``k`` of candidates by ``sims + boosts`` (ties by row), best first."""
    scores = sims + boosts
    order = np.lexsort((rows, -scores))[:k]
    return scores[order], rows[order], sims[order]
