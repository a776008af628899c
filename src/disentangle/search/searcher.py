"""Steerable, explained semantic search: embed, encode, edit, steer, filter, rank, explain.

Each hit is explained by the features it shares with the steered query. With unit decoder
rows, the query ``q ≈ Σ_f q_f d_f + …`` and a document ``e ≈ Σ_f a_f d_f + …`` have score
``⟨q, e⟩ = Σ_f q_f a_f + (cross terms between different features, biases and residuals)``.
A shared feature's *contribution* is its diagonal term ``q_f · a_f``, with ``q_f`` the
activation in the code of the steered unit query (re-encoded, so the explanation describes
the vector that was actually ranked, in every mode). ``other`` is the rest of the cosine, and
``boost`` the hybrid term of the edited features (:mod:`disentangle.search.hybrid`), so
``Σ contributions + other + boost == score`` exactly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import torch

from disentangle.codes import SparseCodes
from disentangle.errors import DisentangleError
from disentangle.sae.model import TopKSAE
from disentangle.search.edits import Edit, FeatureResolver, ResolvedEdit
from disentangle.search.filters import FeatureIndex, Filters, MetadataIndex, build_mask
from disentangle.search.hybrid import (
    AUTO,
    DEFAULT_BLEND,
    DEFAULT_POOL,
    MAX_BLEND,
    MAX_POOL,
    FeatureTerms,
    PoolRule,
    Ranked,
    hybrid_rank,
)
from disentangle.search.index import IndexKind, VectorIndex, make_index
from disentangle.search.steer import Steered, SteerMode, steer

TOP_TITLES = 3
TYPICAL_TOP_DOCUMENTS = 10
"""A feature's typical activation (the unit of strength) is its mean over this many of its
strongest documents."""


class QueryEmbedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class FeatureInfo:
    """A feature of a query, with what a user needs to read an unlabelled one."""

    feature: int
    label: str | None
    activation: float
    original: float
    """Activation in the unsteered query (equal to ``activation`` for the query's own code)."""
    top_titles: tuple[str, ...]
    """Titles of the feature's strongest documents in the corpus."""


@dataclass(frozen=True)
class Contribution:
    feature: int
    label: str | None
    query_activation: float
    hit_activation: float
    contribution: float
    """``query_activation × hit_activation``: this feature's diagonal share of the score."""


@dataclass(frozen=True)
class Hit:
    row: int
    id: str
    title: str
    year: int | None
    categories: tuple[str, ...]
    score: float
    """What the hit was ranked by: ``similarity + boost``."""
    similarity: float
    """Cosine between the steered query and the document."""
    boost: float
    """Hybrid term of the edited features active in the document (0 without edits)."""
    explanation: tuple[Contribution, ...]
    """Shared features, largest contribution first."""
    other: float
    """Similarity not attributed to shared features: ``similarity − Σ contributions``."""


@dataclass(frozen=True)
class SearchResult:
    query: str
    mode: str
    edits: tuple[ResolvedEdit, ...]
    hits: tuple[Hit, ...]
    query_features: tuple[FeatureInfo, ...]
    steered_features: tuple[FeatureInfo, ...]
    drift: float
    """Cosine between the steered and the original query embedding."""
    blend: float
    """Score per unit of edit weight that documents carrying an edited feature gain/lose."""
    pool: int | None
    """How many of the steered query's nearest documents the feature terms re-ranked (None:
    the whole corpus; 0 without edits)."""
    pool_rule: str
    """``auto`` (the adaptive pool), ``fixed`` or ``all``; empty without edits."""
    boost_share: float
    """Share of the hits' summed score that comes from the hybrid terms (0 = pure dense)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready structure for the CLI's ``--json`` and the web app."""
        return asdict(self)


class Searcher:
    """Everything needed to answer steered queries over one corpus, built once."""

    def __init__(
        self,
        embeddings: np.ndarray,
        corpus: pa.Table,
        sae: TopKSAE,
        codes: SparseCodes,
        query_embedder: QueryEmbedder,
        labels: Mapping[int, str] | None = None,
        families: Mapping[int | str, Sequence[int]] | None = None,
        family_labels: Mapping[int | str, str] | None = None,
        index: IndexKind | VectorIndex = "exact",
        secondary: Collection[int] = (),
    ) -> None:
        if not (embeddings.shape[0] == corpus.num_rows == len(codes)):
            raise DisentangleError(
                f"embeddings ({embeddings.shape[0]}), corpus ({corpus.num_rows}) and codes "
                f"({len(codes)}) differ in length; re-run `disentangle encode` on this corpus")
        self.embeddings = embeddings
        self.corpus = corpus
        self.sae = sae.eval()
        self.codes = codes
        self.embedder = query_embedder
        self.resolver = FeatureResolver(sae.config.n, labels, families, family_labels,
                                        secondary)
        self.index = make_index(embeddings, index) if isinstance(index, str) else index
        self.features = FeatureIndex(codes)
        self.metadata = MetadataIndex(corpus)
        self.decoder = sae.W_dec.detach().cpu().float().numpy()
        self.b_pre = sae.b_pre.detach().cpu().float().numpy()
        typical = self.features.top_mean(TYPICAL_TOP_DOCUMENTS)
        live = typical > 0
        # A feature never active in the corpus still needs a unit for ``raise``.
        typical[~live] = float(np.median(typical[live])) if live.any() else 1.0
        self.typical = typical
        self._top_titles: dict[int, tuple[str, ...]] = {}

    # -- building blocks ---------------------------------------------------------------------

    def embed(self, query: str) -> np.ndarray:
        """Unit-norm float32 ``[d]`` embedding of a query."""
        vector = np.asarray(self.embedder.embed([query]), dtype=np.float32)[0]
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            raise DisentangleError(f"the embedder returned a zero vector for {query!r}; "
                                   "check the query text")
        return vector / norm

    @torch.no_grad()
    def encode(self, vector: np.ndarray) -> dict[int, float]:
        """The SAE code of one vector as ``feature -> activation`` (active features only)."""
        code = self.sae.encode(torch.from_numpy(np.asarray(vector, np.float32)[None]).to(
            self.sae.b_pre.device, self.sae.b_pre.dtype))
        pairs = zip(code.indices[0].tolist(), code.values[0].float().tolist(), strict=True)
        return {f: v for f, v in pairs if v > 0}

    def resolve(self, edits: Sequence[Edit]) -> list[ResolvedEdit]:
        """The edits on feature ids; next to a raise, lowering is capped (see
        :func:`cap_lowering`)."""
        return cap_lowering([resolved for edit in edits
                             for resolved in self.resolver.resolve(edit)])

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None:
            return None
        require = [self.resolver.feature(t) for t in filters.require]
        exclude = [self.resolver.feature(t) for t in filters.exclude]
        return build_mask(filters, self.metadata, self.features, require, exclude)

    def steer(self, query: str, edits: Sequence[Edit] = (),
              mode: SteerMode = "residual") -> tuple[np.ndarray, dict[int, float], Steered]:
        """``(original embedding, original code, steered)`` for a query and its edits."""
        x = self.embed(query)
        code = self.encode(x)
        return x, code, steer(x, code, self.resolve(edits), self.decoder, self.b_pre,
                              self.typical, mode)

    def terms(self, edits: Sequence[ResolvedEdit], code: Mapping[int, float],
              blend: float = DEFAULT_BLEND) -> FeatureTerms:
        """The hybrid terms of ``edits`` applied to a query whose code is ``code``."""
        weights: dict[int, float] = {}
        current = dict(code)
        for edit in edits:
            typical = float(self.typical[edit.feature])
            value = current.get(edit.feature, 0.0)
            weights[edit.feature] = weights.get(edit.feature, 0.0) + edit.weight(value, typical)
            current[edit.feature] = edit.apply(value, typical)
        return FeatureTerms.build(self.features, weights, self.typical, blend)

    def rank(self, vector: np.ndarray, k: int, mask: np.ndarray | None = None,
             terms: FeatureTerms | None = None, pool: PoolRule = DEFAULT_POOL) -> Ranked:
        """Top ``k`` for one vector under the hybrid score (plain dense search without
        ``terms``), padding dropped; the terms re-rank the adaptive pool (``"auto"``), the
        nearest ``pool`` documents, or (None) all."""
        if k < 1:
            raise DisentangleError(f"k must be at least 1, got {k}")
        empty = FeatureTerms(np.empty(0, np.int64), np.empty(0, np.float32))
        return hybrid_rank(self.index, self.embeddings, vector, k, terms or empty, mask, pool)

    # -- the public queries ------------------------------------------------------------------

    def search(
        self,
        query: str,
        edits: Sequence[Edit] = (),
        k: int = 10,
        filters: Filters | None = None,
        mode: SteerMode = "residual",
        blend: float = DEFAULT_BLEND,
        pool: PoolRule = DEFAULT_POOL,
    ) -> SearchResult:
        """Top-``k`` documents for ``query`` after ``edits``, each hit explained; the edited
        features' terms re-rank the steered query's adaptive pool (``"auto"``), its nearest
        ``pool`` documents, or (None) all."""
        if not 0.0 <= blend <= MAX_BLEND:
            raise DisentangleError(f"blend must be between 0 and {MAX_BLEND:g}, got {blend:g}")
        if pool not in (None, AUTO) and not (isinstance(pool, int) and 1 <= pool <= MAX_POOL):
            raise DisentangleError(f"pool must be auto or between 1 and {MAX_POOL}, got {pool}")
        resolved = self.resolve(edits)
        x = self.embed(query)
        code = self.encode(x)
        steered = steer(x, code, resolved, self.decoder, self.b_pre, self.typical, mode)
        unmoved = np.array_equal(steered.vector, x)
        steered_code = code if unmoved else self.encode(steered.vector)
        scores, rows, similarity, pooled = self.rank(steered.vector, k, self.mask(filters),
                                                     self.terms(resolved, code, blend), pool)
        shown = dict(steered_code)
        for edit in resolved:  # keep removed features visible, at 0
            shown.setdefault(edit.feature, 0.0)
        total = float(np.abs(scores).sum())
        return SearchResult(
            query=query,
            mode=mode,
            edits=tuple(resolved),
            hits=self._hits(scores, rows, similarity, steered_code),
            query_features=self._infos([(f, v, v) for f, v in _by_value(code)]),
            steered_features=self._infos([(f, v, code.get(f, 0.0)) for f, v in _by_value(shown)]),
            drift=steered.drift,
            blend=blend if resolved else 0.0,
            pool=pooled,
            pool_rule=("" if pooled == 0 else "all" if pooled is None
                       else AUTO if pool == AUTO else "fixed"),
            boost_share=float(np.abs(scores - similarity).sum()) / total if total else 0.0,
        )

    def records(self, rows: np.ndarray,
                columns: Sequence[str] = ("id", "title", "year", "categories", "abstract")
                ) -> list[dict[str, Any]]:
        """The corpus rows ``rows`` as dicts of those ``columns`` the corpus has."""
        present = [c for c in columns if c in self.corpus.column_names]
        return self.corpus.select(present).take(pa.array(rows, pa.int64())).to_pylist()

    def top_titles(self, count: int) -> list[list[str]]:
        """The titles of every feature's ``count`` strongest documents (what names a feature
        that has no label), read from the corpus in one pass."""
        tops = [self.features.top_rows(f, count) for f in range(self.features.n_features)]
        titles = self.corpus.column("title").take(
            pa.array(np.concatenate(tops).astype(np.int64))).to_pylist()
        bounds = np.cumsum([0, *(len(t) for t in tops)])
        return [titles[bounds[f]:bounds[f + 1]] for f in range(self.features.n_features)]

    def query_features(self, query: str, top: int = 8) -> list[FeatureInfo]:
        """The query's strongest ``top`` features, for sliders and ``--explain``."""
        code = self.encode(self.embed(query))
        return list(self._infos([(f, v, v) for f, v in _by_value(code)[:top]]))

    def feature_info(self, feature: int) -> FeatureInfo:
        """Label, typical activation and top titles of one feature (for "add feature" UIs)."""
        feature = self.resolver.feature(feature)
        return self._infos([(feature, float(self.features.max_activation[feature]), 0.0)])[0]

    # -- presentation ------------------------------------------------------------------------

    def _infos(self, items: Sequence[tuple[int, float, float]]) -> tuple[FeatureInfo, ...]:
        """``(feature, activation, original)`` triples as :class:`FeatureInfo`, top titles
        fetched in one batch and cached: popular features recur in almost every query."""
        missing = [f for f, _, _ in items if f not in self._top_titles]
        if missing:
            tops = [self.features.top_rows(f, TOP_TITLES) for f in missing]
            rows = np.concatenate(tops) if tops else np.empty(0, np.int64)
            titles = self.corpus.column("title").take(pa.array(rows.astype(np.int64)))
            titles = titles.to_pylist()
            offset = 0
            for feature, top in zip(missing, tops, strict=True):
                self._top_titles[feature] = tuple(titles[offset:offset + len(top)])
                offset += len(top)
        return tuple(FeatureInfo(f, self.resolver.label(f), float(activation), float(original),
                                 self._top_titles[f]) for f, activation, original in items)

    def _hits(self, scores: np.ndarray, rows: np.ndarray, similarity: np.ndarray,
              query_code: Mapping[int, float]) -> tuple[Hit, ...]:
        table = self.corpus.select(
            [c for c in ("id", "title", "year", "categories") if c in self.corpus.column_names]
        ).take(pa.array(rows.astype(np.int64))).to_pylist()
        hits = []
        for score, cosine, row, record in zip(scores.tolist(), similarity.tolist(), rows.tolist(),
                                              table, strict=True):
            doc = zip(self.codes.indices[row].tolist(), self.codes.values[row].tolist(),
                      strict=True)
            shared = sorted(
                (Contribution(f, self.resolver.label(f), query_code[f], a, query_code[f] * a)
                 for f, a in doc if a > 0 and f in query_code),
                key=lambda c: -c.contribution)
            hits.append(Hit(
                row=row, id=str(record.get("id", row)), title=record.get("title") or "",
                year=record.get("year"), categories=tuple(record.get("categories") or ()),
                score=score, similarity=cosine, boost=score - cosine, explanation=tuple(shared),
                other=cosine - sum(c.contribution for c in shared)))
        return tuple(hits)


COMBINED_LOWERING = 0.5
"""Next to a raise, lowering keeps at least this share of a feature (``--down X`` halves X
instead of removing it)."""


def cap_lowering(edits: Sequence[ResolvedEdit]) -> list[ResolvedEdit]:
    """Cap the lowerings of a combined edit (more of R, less of L) at half.

    Removing the query's strongest feature while raising another one ranked first the
    documents carrying R and not L, which are about neither the question nor its main
    topic: judges rated the relevance of such results 0.40 of 2 (docs/steering.md). Halving
    L instead, in the vector and in the ranking, keeps the question in view; lowering alone
    still removes."""
    if not any(edit.op == "raise" for edit in edits):
        return list(edits)
    return [ResolvedEdit(e.feature, "scale", COMBINED_LOWERING)
            if e.op == "remove" or (e.op == "scale" and e.value < COMBINED_LOWERING) else e
            for e in edits]


def _by_value(code: Mapping[int, float]) -> list[tuple[int, float]]:
    return sorted(code.items(), key=lambda item: (-item[1], item[0]))
