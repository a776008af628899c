"""A labeller that needs no LLM: the phrase its activating abstracts share, counted, not guessed.

For each feature:

1. candidates: every 1–4-word phrase (plural-folded, fragments absorbed into the longer term
   they nearly always sit in; :mod:`disentangle.interpret.phrases`) that occurs whole in at
   least ``min_documents`` of its activating labelling documents;
2. each candidate scores as a classifier of the feature's documents: its *recall* is the
   activation-weighted share of activating documents containing it; its *precision* is
   estimated from its rate in a random background sample against the feature's density
   (a generic word is in far more documents than the feature fires on; a fragment is precise
   but covers few). The score is their F1, minus a fraction of the share of hard negatives
   (topical neighbours where the feature is silent) containing the phrase. So a label is as broad as
   the activating set: a dense feature may be named "galaxies", a rare one must be specific.
   Longer phrases get a small bonus, so "white dwarf" beats "dwarf" at a similar score.
   No candidate is ever chosen by embedding similarity;
3. the best candidate is the label, the next ones sharing none of its words are the
   ``keywords``; a feature whose best phrase is in fewer than ``mixed_coverage`` of its top
   documents is flagged ``mixed`` and labelled "mixed: k1, k2, k3" rather than named;
4. ``contrast``: a phrase over-represented in the hard negatives against the activating
   documents, kept when subtracting its embedding separates the labelling documents clearly
   better. It is a separate field, never part of the label.

Prediction for scoring uses only the label's phrases and each held-out document's embedding
(the same embedder made both): the cosine to the label phrase plus ``keyword_weight`` times the
mean cosine to the keywords, minus ``contrast_weight`` times the cosine to the contrast phrase,
thresholded where F1 peaks on the labelling documents. Phrases are embedded once per process,
in sorted batches; a phrase's vector does not depend on what shares its batch (the local
MiniLM gives bit-identical vectors), so a resumed run labels exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from disentangle.interpret.backend import Label
from disentangle.interpret.examples import FeatureExamples
from disentangle.interpret.phrases import (
    Background,
    PhraseIndex,
    absorbed_phrases,
    contrastive_phrases,
    is_term,
)
from disentangle.interpret.scoring import Prediction, best_threshold
from disentangle.metrics import pearson

MIXED = "mixed"
"""Display prefix of a feature whose top documents share no topic: "mixed: a, b, c"."""


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class OfflineConfig:
    min_documents: int = 2
    """A phrase must occur in this many activating labelling documents to be a candidate."""
    background_documents: int = 5000
    hard_weight: float = 0.3
    """Penalty per unit share of labelling hard negatives containing the phrase."""
    ngram_bonus: float = 0.04
    """Bonus per extra word of a phrase (in units of F1)."""
    shortlist: int = 8
    """At most this many of the best-scored phrases may become the label."""
    shortlist_margin: float = 0.2
    """... and only those scoring within this of the best."""
    separation_weight: float = 2.0
    """Weight of the embedding separation (Pearson on labelling documents) among them."""
    keywords: int = 4
    mixed_coverage: float = 0.4
    """Below this share of top documents containing the best phrase, the feature is mixed."""
    keyword_weight: float = 0.5
    """Weight of the keywords' mean direction in prediction, against the label's."""
    contrast_candidates: int = 20
    """Phrases of the hard negatives tried as the contrast."""
    contrast_max_rate: float = 0.3
    """A contrast phrase must be rarer than this in the corpus: common words say nothing."""
    contrast_weight: float = 1.0
    """How much the cosine to the contrast phrase is subtracted in prediction."""
    contrast_gain: float = 0.0
    """Minimum gain in labelling separation (Pearson) for keeping a contrast."""
    seed: int = 0


@dataclass(frozen=True)
class Candidate:
    phrase: str
    """The plural-folded key."""
    score: float
    coverage: float
    """Activation-weighted share of activating labelling documents containing it."""
    top_coverage: float
    """Share of the top labelling documents containing it."""
    hard: float
    background: float


class OfflineBackend:
    name = "offline"

    def __init__(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray,
        embedder: Embedder,
        config: OfflineConfig | None = None,
    ) -> None:
        self.config = config or OfflineConfig()
        self.index = PhraseIndex(texts)
        self.embeddings = embeddings
        self.embedder = embedder
        self._background: Background | None = None
        self._vectors: dict[str, np.ndarray] = {}

    def spec(self) -> dict[str, Any]:
        return {"labeller": "coverage-v1", **asdict(self.config)}

    @property
    def background(self) -> Background:
        if self._background is None:
            cfg = self.config
            self._background = Background.sample(self.index, cfg.background_documents, cfg.seed)
        return self._background

    def label(self, batch: Sequence[FeatureExamples]) -> list[Label]:
        ranked = [self.candidates(examples) for examples in batch]
        shortlists = [self._shortlist(examples, candidates)
                      for examples, candidates in zip(batch, ranked, strict=True)]
        contrasts = [self._contrasts(examples) for examples in batch]
        self._embed([p for options in shortlists for p in options.values()]
                    + [p for options in contrasts for p in options])
        drafts = [self._draft(examples, candidates, options) for examples, candidates, options
                  in zip(batch, ranked, shortlists, strict=True)]
        self._embed([k for label in drafts for k in label.keywords])
        return [self._with_contrast(examples, label, options) if label.text else label
                for examples, label, options in zip(batch, drafts, contrasts, strict=True)]

    def predict(
        self, batch: Sequence[FeatureExamples], labels: Sequence[Label]
    ) -> list[Prediction]:
        self._embed([p for label in labels if label.text
                     for p in (label.phrase or label.text, *label.keywords, label.contrast) if p])
        predictions = []
        for examples, label in zip(batch, labels, strict=True):
            if not label.text:
                scores = np.zeros(len(examples.scoring.rows), np.float32)
                predictions.append(Prediction(scores, 0.0, failures=len(scores)))
                continue
            vector = self._direction(label)
            on_labelling = self._doc_vectors(examples.labelling.rows) @ vector
            predictions.append(Prediction(
                self._doc_vectors(examples.scoring.rows) @ vector,
                best_threshold(on_labelling, examples.labelling.active),
            ))
        return predictions

    def candidates(self, examples: FeatureExamples) -> list[Candidate]:
        """Every phrase of the activating labelling documents, best first."""
        cfg = self.config
        items = examples.labelling
        active = np.flatnonzero(items.active)
        if not len(active):
            return []
        rows = items.rows[active].tolist()
        weights = items.activations[active].astype(np.float64)
        is_top = items.of_kind("top")[active]
        need = min(cfg.min_documents, len(rows))
        counts = {p: c for p, c in self.index.document_frequency(rows).items() if c >= need}
        skip = absorbed_phrases(counts)
        names = sorted(p for p in counts if p not in skip and is_term(p))
        if not names:
            return []
        position = {name: i for i, name in enumerate(names)}
        presence = np.zeros((len(names), len(rows)), np.float64)
        for column, row in enumerate(rows):
            hits = [position[p] for p in self.index.phrases(row) if p in position]
            presence[hits, column] = 1.0
        coverage = presence @ weights / weights.sum()
        top_coverage = presence[:, is_top].mean(axis=1) if is_top.any() else coverage
        hard_rows = items.rows[items.of_kind("hard")].tolist()
        hard_counts = self.index.document_frequency(hard_rows)
        hard = np.array([hard_counts.get(n, 0) for n in names], np.float64) / max(len(hard_rows),
                                                                                  1)
        background = self.background
        rate = (np.array([background.counts.get(n, 0) for n in names], np.float64) + 0.5) / (
            background.documents + 1.0)
        precision = np.minimum(1.0, coverage * examples.density / rate)
        f1 = 2 * precision * coverage / np.maximum(precision + coverage, 1e-12)
        words = np.array([n.count(" ") for n in names], np.float64)
        total = f1 - cfg.hard_weight * hard + cfg.ngram_bonus * words
        order = np.argsort(-total, kind="stable")
        return [Candidate(names[i], float(total[i]), float(coverage[i]), float(top_coverage[i]),
                          float(hard[i]), float(rate[i])) for i in order]

    def _shortlist(self, examples: FeatureExamples, ranked: list[Candidate]) -> dict[str, str]:
        """Surface form by key of the candidates close enough to the best to be the label."""
        cfg = self.config
        if not ranked:
            return {}
        rows = examples.labelling.rows[examples.labelling.active].tolist()
        floor = ranked[0].score - cfg.shortlist_margin
        return {c.phrase: self.index.surface(c.phrase, rows)
                for c in ranked[:cfg.shortlist] if c.score >= floor}

    def _draft(self, examples: FeatureExamples, ranked: list[Candidate],
               shortlist: dict[str, str]) -> Label:
        """Label, keywords and mixed flag (the contrast comes later). The label is the
        shortlisted phrase whose score plus embedding separation is best: the counts decide
        which phrases may name the feature, the embedding only breaks near-ties among them."""
        cfg = self.config
        if not ranked:
            return Label("", "no phrase occurs in two activating documents", True)
        items = examples.labelling
        options = [c for c in ranked if c.phrase in shortlist]
        vectors = np.stack([self._vectors[shortlist[c.phrase]] for c in options])
        separation = _separation(self._doc_vectors(items.rows) @ vectors.T, items.active)
        total = np.array([c.score for c in options]) + cfg.separation_weight * separation
        best = options[int(np.argmax(total))]
        chosen, used = [best], set(best.phrase.split())
        for candidate in ranked:
            if len(chosen) > cfg.keywords or candidate.score <= 0:
                break
            if not used & set(candidate.phrase.split()):
                chosen.append(candidate)
                used.update(candidate.phrase.split())
        rows = items.rows[items.active].tolist()
        shown = [shortlist.get(c.phrase) or self.index.surface(c.phrase, rows) for c in chosen]
        evidence = "; ".join(f"{c.phrase} (covers {c.coverage:.0%}, top {c.top_coverage:.0%}, "
                             f"hard {c.hard:.0%}, corpus {c.background:.1%})" for c in chosen)
        if best.top_coverage < cfg.mixed_coverage:
            return Label(f"{MIXED}: {', '.join(shown[:3])}", evidence, keywords=tuple(shown[1:]),
                         mixed=True, phrase=shown[0])
        return Label(shown[0], evidence, keywords=tuple(shown[1:]))

    def _direction(self, label: Label) -> np.ndarray:
        """The vector whose dot product with a document embedding is the label's prediction."""
        cfg = self.config
        vector = self._vectors[label.phrase or label.text].copy()
        if label.keywords:
            vector += cfg.keyword_weight * np.mean([self._vectors[k] for k in label.keywords],
                                                   axis=0)
        if label.contrast:
            vector -= cfg.contrast_weight * self._vectors[label.contrast]
        return vector

    def _contrasts(self, examples: FeatureExamples) -> list[str]:
        """Phrases over-represented in the labelling hard negatives against the activating ones."""
        items = examples.labelling
        hard = items.rows[items.of_kind("hard")].tolist()
        active = items.rows[items.active].tolist()
        if not hard or not active:
            return []
        against = Background(self.index.document_frequency(active), len(active))
        found = contrastive_phrases(self.index.document_frequency(hard), len(hard), against,
                                    top=self.config.contrast_candidates,
                                    min_documents=min(self.config.min_documents, len(hard)))
        limit = self.config.contrast_max_rate * self.background.documents
        return [self.index.surface(p, hard) for p, _ in found
                if self.background.counts.get(p, 0) < limit]

    def _with_contrast(self, examples: FeatureExamples, label: Label, others: list[str]) -> Label:
        """``label`` with the contrast phrase that clearly improves separation, if any."""
        items = examples.labelling
        words = set((label.phrase or label.text).split())
        options = [label] + [Label(label.text, label.evidence, keywords=label.keywords,
                                   contrast=other, mixed=label.mixed, phrase=label.phrase)
                             for other in others if not words & set(other.split())]
        directions = np.stack([self._direction(option) for option in options])
        separation = _separation(self._doc_vectors(items.rows) @ directions.T, items.active)
        best = int(np.argmax(separation))
        return options[best] if separation[best] >= separation[0] + self.config.contrast_gain \
            else label

    def _doc_vectors(self, rows: np.ndarray) -> np.ndarray:
        order = np.argsort(rows, kind="stable")
        vectors = np.empty((len(rows), self.embeddings.shape[1]), np.float32)
        vectors[order] = np.asarray(self.embeddings[rows[order]], np.float32)
        return vectors

    def _embed(self, texts: list[str]) -> None:
        """Embed every text not embedded yet, in one call, in sorted order (the embedder pads
        per batch, so a fixed order keeps the vectors, and the labels, reproducible)."""
        new = sorted({t for t in texts if t not in self._vectors})
        if new:
            vectors = np.asarray(self.embedder.embed(new), np.float32)
            self._vectors.update(zip(new, vectors, strict=True))


def _separation(cosines: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per column, Pearson of the scores with the truth (0 where undefined)."""
    return np.nan_to_num(np.array([pearson(cosines[:, j], truth)
                                   for j in range(cosines.shape[1])]))
