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

The term only re-ranks a *pool* of the documents nearest the steered query, so a raised topic
is brought in from the query's own neighbourhood instead of from anywhere in the corpus, and
"less of X" drops the neighbours that carry X rather than whatever ranks highest without it.
Ranked over the whole corpus (``pool=None``), a raised feature replaced the query: blind
judges rated the results' relevance 0.39 of 2 (docs/steering.md).

The default pool adapts (``pool="auto"``): it is the steered query's neighbours down to
:data:`REACH` below the cosine of its ``k``-th, cut after the first
:data:`RAISED_PER_STRENGTH` × strength documents the edit favours (a positive term). A fixed
pool holds as many raised documents as the query's neighbourhood happens to: a feature far
from the question was missing from the results (held-out astronomy, 31 %), one near it filled
them (machine learning, 92 %). The adaptive pool grows until the raised topic can take about
half of the top 10 at strength 1, and shrinks where it is everywhere, so the slider means the
same on every question; the reach keeps what it brings in close to the question. An integer
``pool`` re-ranks that many nearest documents (the rule before).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from disentangle.errors import DisentangleError
from disentangle.search.filters import FeatureIndex
from disentangle.search.index import ExactIndex, VectorIndex, top_k

DEFAULT_BLEND = 1.0
"""Score a document gains per unit of edit weight (cosine units); measured in docs/steering.md.
Within the pool, cosines differ by less than this, so a neighbour carrying a raised feature at
its typical strength comes first."""
MAX_BLEND = 2.0
AUTO = "auto"
PoolRule = int | Literal["auto"] | None
"""How many nearest documents the terms re-rank: ``"auto"`` (adaptive, see the module
docstring), a fixed number, or None for the whole corpus."""
DEFAULT_POOL: PoolRule = AUTO
MAX_POOL = 100_000
REACH = 0.2
"""The adaptive pool stops this far (cosine) below the steered query's ``k``-th neighbour."""
RAISED_PER_STRENGTH = 7
"""The adaptive pool holds this many documents the edit favours per unit of raised strength."""
MAX_AUTO_POOL = 5_000
"""The adaptive pool never re-ranks more than this many documents."""


def parse_pool(text: str | int | None) -> PoolRule:
    """``auto``, a number of documents, or ``0``/``all`` for the whole corpus (CLI, URLs)."""
    if text is None or isinstance(text, int):
        return text or None
    text = text.strip().lower()
    if text == AUTO:
        return AUTO
    if text == "all":
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_POOL:
        raise DisentangleError(f"pool must be auto, all, or a number from 0 (whole corpus) to "
                               f"{MAX_POOL}, got {text!r}")
    return int(text) or None


@dataclass(frozen=True)
class FeatureTerms:
    """Rows where an edited feature is active and the term each adds to the dense score."""

    rows: np.ndarray
    """Sorted int64 corpus rows."""
    terms: np.ndarray
    """float32, aligned with ``rows``: ``blend · Σ_f w_f · min(a_f / typical_f, 1)``."""
    raised: float = 0.0
    """Sum of the positive weights (the raised strength): what sizes the adaptive pool."""

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
        return cls(unique, terms, sum(w for w in weights.values() if w > 0))

    def __len__(self) -> int:
        return len(self.rows)


class Ranked(NamedTuple):
    """Top hits under the hybrid score, best first."""

    scores: np.ndarray
    rows: np.ndarray
    similarities: np.ndarray
    """Dense cosine to the ranked vector (without the terms)."""
    pool: int | None
    """How many nearest documents the terms re-ranked (None: all; 0: no terms)."""


def hybrid_rank(index: VectorIndex, embeddings: np.ndarray, vector: np.ndarray, k: int,
                terms: FeatureTerms, mask: np.ndarray | None = None,
                pool: PoolRule = DEFAULT_POOL) -> Ranked:
    """Top ``k`` under the hybrid score. The terms re-rank the adaptive pool (``"auto"``),
    the dense top ``max(pool, k)``, or (``None``) the whole corpus. With no terms this is
    exactly ``index.search`` (plain dense search, bit for bit)."""
    if not len(terms):
        scores, rows = index.search(vector, k, mask)
        keep = rows[0] >= 0
        return Ranked(scores[0][keep], rows[0][keep], scores[0][keep], 0)
    if pool == AUTO:
        return _rerank_pool(index, vector, k, terms, mask, None)
    if pool is not None:
        return _rerank_pool(index, vector, k, terms, mask, max(pool, k))
    if isinstance(index, ExactIndex) and mask is None:
        # One scan: every similarity is computed anyway, so add the terms in place.
        similarity = index.scores(vector)
        scores = similarity.copy()
        scores[terms.rows] += terms.terms
        top, rows = top_k(scores[None], k)
        return Ranked(top[0], rows[0], similarity[rows[0]], None)
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
    return Ranked(*_merge(np.concatenate([dense_rows, boosted_rows]),
                          np.concatenate([dense_scores, similarity]).astype(np.float32),
                          np.concatenate([np.zeros(len(dense_rows), np.float32),
                                          boosted_terms]), k), None)


def _rerank_pool(index: VectorIndex, vector: np.ndarray, k: int, terms: FeatureTerms,
                 mask: np.ndarray | None, pool: int | None) -> Ranked:
    """Re-rank the dense top ``pool``, or the adaptive pool when ``pool`` is None."""
    sims, rows = index.search(vector, pool or max(MAX_AUTO_POOL, k), mask)
    keep = rows[0] >= 0
    sims, rows = sims[0][keep].astype(np.float32), rows[0][keep]
    where = np.minimum(np.searchsorted(terms.rows, rows), max(len(terms) - 1, 0))
    gains = np.where(terms.rows[where] == rows, terms.terms[where], 0.0).astype(np.float32)
    size = len(rows) if pool is not None else adaptive_pool(sims, gains, k, terms.raised)
    return Ranked(*_merge(rows[:size], sims[:size], gains[:size], k), size)


def adaptive_pool(sims: np.ndarray, gains: np.ndarray, k: int, raised: float) -> int:
    """Size of the adaptive pool over candidates sorted by descending ``sims``: those within
    :data:`REACH` of the ``k``-th, cut after the first ``RAISED_PER_STRENGTH × raised``
    with a positive gain (never fewer than ``k``; all within reach when nothing is raised)."""
    if not len(sims):
        return 0
    floor = sims[min(k, len(sims)) - 1] - REACH
    reach = int(np.searchsorted(-sims, -floor, side="right"))
    if raised <= 0:
        return reach
    need = math.ceil(RAISED_PER_STRENGTH * raised)
    favoured = np.cumsum(gains > 0)
    return max(k, min(int(np.searchsorted(favoured, need)) + 1, reach))


def _merge(rows: np.ndarray, sims: np.ndarray, boosts: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top ``k`` of candidates by ``sims + boosts`` (ties by row), best first."""
    scores = sims + boosts
    order = np.lexsort((rows, -scores))[:k]
    return scores[order], rows[order], sims[order]
