"""Which documents a labeller sees and which ones its label is scored on.

Every feature's documents are split into a *labelling* set and a disjoint *scoring* set, so a
label is never scored on a document its author saw (the leak in the paper's single-feature
script). Both sets hold activating documents and two kinds of silent ones:

- random silent documents, which test whether the label is specific at all;
- hard negatives, the silent documents nearest to the feature's top documents, which test
  whether the label is specific *enough* (a "galaxies" label for a "galaxy clusters" feature
  fails on them).

Activating labelling examples are the top documents plus one document per activation
quantile, because top examples alone give over-specific labels. Scoring activating documents
are the top of the scoring half (as the paper scores) plus a uniform sample of the rest, so
the realistic score also reflects the feature's typical, weaker documents. Selection for a
feature depends only on ``(seed, feature)``, never on batching, so runs are reproducible and
resumable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from disentangle.codes import SparseCodes

KINDS = ("top", "quantile", "active", "random", "hard")
"""Why an example was chosen; ``active`` is a uniformly sampled activating scoring document."""

_SIMILARITY_BLOCK = 8192


@dataclass(frozen=True)
class ExampleConfig:
    """How many examples of each kind to draw (the paper: 5 + 5 to label, 3 + 3 to score)."""

    label_top: int = 10
    """Strongest activating documents shown to the labeller."""
    label_quantile: int = 10
    """Further activating documents, one per activation quantile of the rest."""
    label_random: int = 20
    """Random silent documents in the labelling set."""
    label_hard: int = 10
    """Hard negatives in the labelling set."""
    score_top: int = 10
    """Strongest activating documents of the scoring half (the paper scores on top ones)."""
    score_active: int = 100
    """Further activating documents to score on, sampled uniformly from the rest."""
    score_random: int = 100
    """Random silent documents to score on."""
    score_hard: int = 100
    """Hard negatives to score on."""
    min_label_chars: int = 300
    """Shorter texts are never labelling examples: they carry too little to label from."""
    seed: int = 0


@dataclass(frozen=True)
class ExampleSet:
    """Documents (row numbers) with their activation of the feature and why each was chosen."""

    rows: np.ndarray
    """int64 row numbers into the corpus."""
    activations: np.ndarray
    """float32 activation of the feature (0 for silent documents)."""
    kinds: np.ndarray
    """Index into ``KINDS`` per row (uint8)."""

    @property
    def active(self) -> np.ndarray:
        """Ground truth: does the feature fire on the document."""
        return self.activations > 0

    def of_kind(self, *names: str) -> np.ndarray:
        """Boolean mask of the examples chosen for one of the given reasons."""
        return np.isin(self.kinds, [KINDS.index(name) for name in names])


@dataclass(frozen=True)
class FeatureExamples:
    feature: int
    labelling: ExampleSet
    scoring: ExampleSet
    density: float = 0.0
    """Share of the corpus where the feature fires (how broad a label may be)."""
    coherence: float = float("nan")
    """How much its top documents share their other features, as a multiple of what is
    usual at its density (1 = the median feature; see ``ExampleSelector``). NaN when not
    known. Tells a topic no single phrase names from a feature with no topic."""


class ExampleSelector:
    """Draws labelling and scoring examples for many features from one corpus.

    Holds the feature-major (CSC) activation matrix so each feature's documents are a slice,
    and computes hard negatives for a batch of features with one pass over the embeddings.
    """

    def __init__(
        self,
        codes: SparseCodes,
        embeddings: np.ndarray,
        text_lengths: np.ndarray,
        config: ExampleConfig,
        coherence: np.ndarray | None = None,
    ) -> None:
        """``coherence``: by feature id, what ``FeatureExamples.coherence`` reports (the
        runner's :func:`~disentangle.codes.topic_coherence` over that of features of similar
        density)."""
        self.coherence = coherence
        self.matrix: sparse.csc_matrix = codes.to_csr().tocsc()
        self.matrix.sort_indices()
        self.embeddings = embeddings
        self.long_enough = np.asarray(text_lengths) >= config.min_label_chars
        self.config = config

    def active(self, feature: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows where ``feature`` fires and its activations there."""
        lo, hi = self.matrix.indptr[feature], self.matrix.indptr[feature + 1]
        return self.matrix.indices[lo:hi].astype(np.int64), self.matrix.data[lo:hi]

    def select(self, features: Sequence[int]) -> list[FeatureExamples]:
        cfg = self.config
        drafts = [self._split_active(int(f)) for f in features]
        centroids = np.stack([
            _unit(np.asarray(self.embeddings[np.sort(top)], np.float32).mean(axis=0))
            if len(top) else np.zeros(self.embeddings.shape[1], np.float32)
            for top, *_ in drafts
        ])
        excluded = [self.active(int(f))[0] for f in features]
        hard = self._nearest_silent(centroids, excluded, cfg.label_hard + cfg.score_hard)
        return [
            self._assemble(int(f), draft, hard_rows)
            for f, draft, hard_rows in zip(features, drafts, hard, strict=True)
        ]

    def _split_active(
        self, feature: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows for labelling (top, quantile) and scoring (top, uniform) for one feature."""
        cfg = self.config
        rng = _rng(cfg.seed, feature, 0)
        rows, acts = self.active(feature)
        order = rng.permutation(len(rows))
        half = (len(rows) + 1) // 2
        label_pool, score_pool = order[:half], order[half:]
        label_pool = label_pool[self.long_enough[rows[label_pool]]]
        label_pool = label_pool[np.argsort(-acts[label_pool], kind="stable")]
        top, rest = label_pool[:cfg.label_top], label_pool[cfg.label_top:]
        quantile = [
            int(rng.choice(part)) for part in np.array_split(rest, cfg.label_quantile) if len(part)
        ] if cfg.label_quantile else []
        score_pool = score_pool[np.argsort(-acts[score_pool], kind="stable")]
        score_top = score_pool[:cfg.score_top]
        scoring = rng.permutation(score_pool[cfg.score_top:])[:cfg.score_active]
        return rows[top], rows[np.asarray(quantile, np.int64)], rows[score_top], rows[scoring]

    def _nearest_silent(
        self, centroids: np.ndarray, excluded: list[np.ndarray], count: int
    ) -> list[np.ndarray]:
        """For each centroid, the ``count`` most similar rows not in its excluded set."""
        if count == 0:
            return [np.empty(0, np.int64) for _ in excluded]
        margin = count + max((len(e) for e in excluded), default=0)
        keep = min(margin, self.embeddings.shape[0])
        best_sim = np.full((len(centroids), 0), -np.inf, np.float32)
        best_row = np.empty((len(centroids), 0), np.int64)
        for start in range(0, self.embeddings.shape[0], _SIMILARITY_BLOCK):
            block = np.asarray(self.embeddings[start:start + _SIMILARITY_BLOCK], np.float32)
            sims = centroids @ block.T
            rows = np.broadcast_to(np.arange(start, start + len(block)), sims.shape)
            sims = np.concatenate([best_sim, sims], axis=1)
            rows = np.concatenate([best_row, rows], axis=1)
            if sims.shape[1] > keep:
                part = np.argpartition(-sims, keep - 1, axis=1)[:, :keep]
                sims = np.take_along_axis(sims, part, axis=1)
                rows = np.take_along_axis(rows, part, axis=1)
            best_sim, best_row = sims, rows
        result = []
        for sims, rows, skip in zip(best_sim, best_row, excluded, strict=True):
            ranked = rows[np.argsort(-sims, kind="stable")]
            result.append(ranked[~np.isin(ranked, skip)][:count])
        return result

    def _assemble(
        self,
        feature: int,
        draft: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        hard: np.ndarray,
    ) -> FeatureExamples:
        cfg = self.config
        top, quantile, score_top, scoring = draft
        rng = _rng(cfg.seed, feature, 1)
        hard = rng.permutation(hard)
        hard_label = hard[self.long_enough[hard]][:cfg.label_hard]
        hard_score = hard[~np.isin(hard, hard_label)][:cfg.score_hard]
        active_rows = self.active(feature)[0]
        taken = np.concatenate([active_rows, hard])
        random_label = self._random_silent(rng, taken, cfg.label_random, long_only=True)
        taken = np.concatenate([taken, random_label])
        random_score = self._random_silent(rng, taken, cfg.score_random, long_only=False)
        labelling = self._example_set(
            feature, [(top, "top"), (quantile, "quantile"), (random_label, "random"),
                      (hard_label, "hard")])
        scoring_set = self._example_set(
            feature, [(score_top, "top"), (scoring, "active"), (random_score, "random"),
                      (hard_score, "hard")])
        coherence = float("nan") if self.coherence is None else float(self.coherence[feature])
        return FeatureExamples(feature, labelling, scoring_set,
                               len(active_rows) / max(self.embeddings.shape[0], 1), coherence)

    def _random_silent(
        self, rng: np.random.Generator, taken: np.ndarray, count: int, long_only: bool
    ) -> np.ndarray:
        """``count`` uniformly drawn rows outside ``taken`` (fewer if the corpus runs out)."""
        total = self.embeddings.shape[0]
        size = min(total, 4 * count + len(taken) + 64)
        candidates = self._usable(rng.choice(total, size=size, replace=False), taken, long_only)
        if len(candidates) < count and size < total:
            candidates = self._usable(rng.permutation(total), taken, long_only)
        return candidates[:count].astype(np.int64)

    def _usable(self, candidates: np.ndarray, taken: np.ndarray, long_only: bool) -> np.ndarray:
        candidates = candidates[~np.isin(candidates, taken)]
        return candidates[self.long_enough[candidates]] if long_only else candidates

    def _example_set(self, feature: int, parts: list[tuple[np.ndarray, str]]) -> ExampleSet:
        rows = np.concatenate([np.asarray(r, np.int64) for r, _ in parts])
        kinds = np.concatenate([np.full(len(r), KINDS.index(k), np.uint8) for r, k in parts])
        active_rows, values = self.active(feature)
        where = np.clip(np.searchsorted(active_rows, rows), 0, max(len(active_rows) - 1, 0))
        hit = (active_rows[where] == rows) if len(active_rows) else np.zeros(len(rows), bool)
        activations = np.where(hit, values[where] if len(values) else 0, 0).astype(np.float32)
        return ExampleSet(rows, activations, kinds)


def _rng(seed: int, feature: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, feature, stream])


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
