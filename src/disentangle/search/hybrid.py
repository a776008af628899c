"""Hybrid ranking: dense similarity plus a term for each edited feature, from the inverted index.

Moving the query vector alone is a blunt way to raise a topic: a decoder direction is not very
selective, so by the time enough documents carrying the feature enter the top 10 the query has
moved so far (cosine ≈ 0.7) that its own topic is gone. Concept-level sparse retrieval ranks by
the feature activations themselves; this module adds that term to the dense score::

    score(d) = ⟨q_steered, e_d⟩ + blend · Σ_f w_f · min(a_f(d) / typical_f, 1)

``w_f`` is the edit's weight (+strength for ``--up``, −1 for ``--down``, see
:meth:`ResolvedEdit.weight`), ``a_f(d)`` the document's stored activation and ``typical_f`` the
activation of the feature's typical top documents, so a document carrying the feature as
strongly as those gains (or loses) ``blend × w_f``. Among documents that carry a raised
feature, the ones closest to the query still win: the topic is *added to* the query.

Only documents where an edited feature is active get a term, so the top ``k`` is exact for any
vector index: the best documents without a term come from the index (those rows masked out),
the ones with a term are scored exactly, and the two lists are merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from disentangle.search.filters import FeatureIndex
from disentangle.search.index import ExactIndex, VectorIndex, top_k

DEFAULT_BLEND = 0.3
"""Score a document gains per unit of edit weight (cosine units); measured in docs/steering.md."""
MAX_BLEND = 2.0


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
                terms: FeatureTerms,
                mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` ``(scores, rows, similarities)`` under the hybrid score, best first.

    With no terms this is exactly ``index.search`` (plain dense search, bit for bit).
    """
    if not len(terms):
        scores, rows = index.search(vector, k, mask)
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep], scores[0][keep]
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
    rows = np.concatenate([dense_rows, boosted_rows])
    sims = np.concatenate([dense_scores, similarity]).astype(np.float32)
    scores = sims + np.concatenate([np.zeros(len(dense_rows), np.float32), boosted_terms])
    order = np.lexsort((rows, -scores))[:k]
    return scores[order], rows[order], sims[order]
