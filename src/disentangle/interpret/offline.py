"""A labeller that needs no LLM: contrastive key phrases, checked against the SAE itself.

For each feature:

1. candidates: the phrases most over-represented in its activating labelling documents
   against a corpus background (:mod:`disentangle.interpret.phrases`);
2. each candidate is embedded with the corpus embedder and scored three ways, each
   standardised within the feature: how well its cosine separates the activating labelling
   documents from all silent ones, how well it separates them from the hard negatives alone
   (weighted up: topical neighbours are what a too-broad label fails on), and how strongly the
   phrase alone drives the feature (its SAE pre-activation). Multi-word phrases get a small
   bonus, since "dust attenuation" says more than "dust" at a similar score;
3. the best candidate is the label. If a phrase over-represented in the hard negatives
   (against the activating documents) separates the labelling documents clearly better when
   subtracted, the label becomes contrastive: "a (not b)".

Prediction for scoring uses only the label text and each held-out document's embedding (the
same embedder made both): the cosine to the label's phrase, minus ``contrast_weight`` times
the cosine to its "not" phrase, thresholded where F1 peaks on the labelling documents. Every
phrase of a batch is embedded in one call, so labelling thousands of features costs a few
embedding passes over short strings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from disentangle.interpret.backend import Label
from disentangle.interpret.examples import FeatureExamples
from disentangle.interpret.phrases import Background, PhraseIndex, contrastive_phrases
from disentangle.interpret.scoring import Prediction, best_threshold
from disentangle.metrics import pearson
from disentangle.sae.model import TopKSAE


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class OfflineConfig:
    candidates: int = 40
    """Key phrases per feature that go on to be embedded and re-ranked."""
    min_documents: int = 2
    """A phrase must occur in this many activating labelling documents to be a candidate."""
    prior_strength: float = 10.0
    """Weight (in pseudo-documents) of the background prior in the log-odds."""
    background_documents: int = 5000
    hard_weight: float = 0.0
    """Weight of separation from hard negatives alone, against separation from all silent."""
    activation_weight: float = 1.0
    """Weight of the SAE pre-activation of the phrase."""
    ngram_bonus: float = 0.2
    """Bonus (in standard deviations) for multi-word phrases."""
    join_gain: float = 0.02
    """Minimum gain in labelling separation (Pearson) for a two-phrase label "a; b"."""
    contrast_candidates: int = 10
    """Phrases of the hard negatives tried as a label's "not" part."""
    contrast_max_rate: float = 0.1
    """A "not" phrase must be rarer than this in the corpus: common words say nothing."""
    contrast_weight: float = 1.0
    """How much the cosine to the "not" phrase is subtracted in prediction."""
    contrast_gain: float = 0.05
    """Minimum gain in labelling separation (Pearson) for a contrastive label."""
    seed: int = 0


_CONTRAST = re.compile(r"^(?P<base>.+?) \(not (?P<other>.+)\)$")


class OfflineBackend:
    name = "offline"

    def __init__(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray,
        sae: TopKSAE,
        embedder: Embedder,
        config: OfflineConfig | None = None,
    ) -> None:
        self.config = config or OfflineConfig()
        self.index = PhraseIndex(texts)
        self.embeddings = embeddings
        self.embedder = embedder
        self.w_enc = sae.W_enc.detach().float().cpu().numpy()
        self.b_lat = sae.b_lat.detach().float().cpu().numpy()
        self.b_pre = sae.b_pre.detach().float().cpu().numpy()
        self._background: Background | None = None
        self._vectors: dict[str, np.ndarray] = {}

    def spec(self) -> dict[str, Any]:
        return asdict(self.config)

    @property
    def background(self) -> Background:
        if self._background is None:
            cfg = self.config
            self._background = Background.sample(self.index, cfg.background_documents, cfg.seed)
        return self._background

    def label(self, batch: Sequence[FeatureExamples]) -> list[Label]:
        candidates = [self._candidates(examples) for examples in batch]
        contrasts = [self._contrasts(examples) for examples in batch]
        self._embed([p for cands in candidates for p, _ in cands]
                    + [p for cands in contrasts for p in cands])
        ranked = [
            self._rank(examples, cands) for examples, cands in zip(batch, candidates, strict=True)
        ]
        pairs = [_pair(ranking) for ranking in ranked]
        self._embed([p for p in pairs if p])
        labels = []
        for examples, ranking, pair, others in zip(batch, ranked, pairs, contrasts, strict=True):
            if not ranking:
                labels.append(Label("", "no phrase occurs in two activating documents", True))
                continue
            evidence = "; ".join(f"{p} (z={z:.1f}, sep={s:.2f}, act={a:.2f})"
                                 for p, z, s, a in ranking[:5])
            best = ranking[0][0]
            if pair and _separation(self._doc_vectors(examples.labelling.rows)
                                    @ self._vectors[pair][:, None], examples.labelling.active)[0] \
                    >= ranking[0][2] + self.config.join_gain:
                best = pair
            labels.append(Label(self._contrast(examples, best, others), evidence))
        return labels

    def predict(
        self, batch: Sequence[FeatureExamples], labels: Sequence[Label]
    ) -> list[Prediction]:
        self._embed([part for label in labels if label.text for part in _parts(label.text)])
        predictions = []
        for examples, label in zip(batch, labels, strict=True):
            if not label.text:
                scores = np.zeros(len(examples.scoring.rows), np.float32)
                predictions.append(Prediction(scores, 0.0, failures=len(scores)))
                continue
            vector = self._direction(label.text)
            on_labelling = self._doc_vectors(examples.labelling.rows) @ vector
            predictions.append(Prediction(
                self._doc_vectors(examples.scoring.rows) @ vector,
                best_threshold(on_labelling, examples.labelling.active),
            ))
        return predictions

    def _direction(self, label: str) -> np.ndarray:
        """The vector whose dot product with a document embedding is the label's prediction."""
        base, other = _parts(label)
        vector = self._vectors[base]
        return vector - self.config.contrast_weight * self._vectors[other] if other else vector

    def _candidates(self, examples: FeatureExamples) -> list[tuple[str, float]]:
        cfg = self.config
        rows = examples.labelling.rows[examples.labelling.active]
        counts = self.index.document_frequency(rows.tolist())
        return contrastive_phrases(counts, len(rows), self.background, top=cfg.candidates,
                                   min_documents=min(cfg.min_documents, max(len(rows), 1)),
                                   prior_strength=cfg.prior_strength)

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
                                    min_documents=min(self.config.min_documents, len(hard)),
                                    prior_strength=self.config.prior_strength)
        limit = self.config.contrast_max_rate * self.background.documents
        return [p for p, _ in found if self.background.counts.get(p, 0) < limit]

    def _rank(
        self, examples: FeatureExamples, candidates: list[tuple[str, float]]
    ) -> list[tuple[str, float, float, float]]:
        """Candidates as (phrase, log-odds z, labelling separation, pre-activation), best first."""
        if not candidates:
            return []
        cfg = self.config
        phrases = [p for p, _ in candidates]
        vectors = np.stack([self._vectors[p] for p in phrases])
        feature = examples.feature
        activation = (vectors - self.b_pre) @ self.w_enc[feature] + self.b_lat[feature]
        items = examples.labelling
        cosines = self._doc_vectors(items.rows) @ vectors.T
        separation = _separation(cosines, items.active)
        near = items.active | items.of_kind("hard")
        from_hard = _separation(cosines[near], items.active[near])
        multiword = np.array([" " in p for p in phrases], np.float64)
        total = (_standardise(separation) + cfg.hard_weight * _standardise(from_hard)
                 + cfg.activation_weight * _standardise(activation) + cfg.ngram_bonus * multiword)
        order = np.argsort(-total, kind="stable")
        return [(phrases[i], candidates[i][1], float(separation[i]), float(activation[i]))
                for i in order]

    def _contrast(self, examples: FeatureExamples, base: str, others: list[str]) -> str:
        """``base``, or "base (not other)" when subtracting ``other`` clearly separates better."""
        items = examples.labelling
        docs = self._doc_vectors(items.rows)
        words = set(base.split())
        options = [base] + [f"{base} (not {o})" for o in others if not words & set(o.split())]
        directions = np.stack([self._direction(label) for label in options])
        separation = _separation(docs @ directions.T, items.active)
        best = int(np.argmax(separation))
        return options[best] if separation[best] >= separation[0] + self.config.contrast_gain \
            else base

    def _doc_vectors(self, rows: np.ndarray) -> np.ndarray:
        order = np.argsort(rows, kind="stable")
        vectors = np.empty((len(rows), self.embeddings.shape[1]), np.float32)
        vectors[order] = np.asarray(self.embeddings[rows[order]], np.float32)
        return vectors

    def _embed(self, texts: list[str]) -> None:
        """Embed every text not embedded yet, in one call (the embedder batches internally)."""
        new = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if new:
            vectors = np.asarray(self.embedder.embed(new), np.float32)
            self._vectors.update(zip(new, vectors, strict=True))


def _pair(ranking: list[tuple[str, float, float, float]]) -> str:
    """The top phrase joined with the best runner-up sharing none of its words, if any."""
    if not ranking:
        return ""
    best = ranking[0][0]
    words = set(best.split())
    for phrase, *_ in ranking[1:3]:
        if not words & set(phrase.split()):
            return f"{best}; {phrase}"
    return ""


def _parts(label: str) -> tuple[str, str]:
    """A label's phrase and its "not" phrase ("" when the label is not contrastive)."""
    match = _CONTRAST.match(label)
    return (match["base"], match["other"]) if match else (label, "")


def _separation(cosines: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per column, Pearson of the scores with the truth (0 where undefined)."""
    return np.nan_to_num(np.array([pearson(cosines[:, j], truth)
                                   for j in range(cosines.shape[1])]))


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)
