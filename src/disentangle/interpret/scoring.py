"""How well a label predicts, on held-out documents, where its feature fires.

Two designs are reported side by side because they answer different questions:

- *realistic* (``pearson``, ``f1``): every scoring item of the feature (by default up to 100
  activating, 100 random silent and 100 hard-negative documents). Hard negatives make it
  strict; hundreds of items make it precise.
- *balanced* (``pearson_balanced``, ``f1_balanced``): the paper's design, 3 top-activating
  held-out documents and 3 random silent ones, averaged over many random draws from the
  scoring set, so the number is comparable with the paper's GPT-4o figures without its
  six-item noise.

Truth is binary (the feature fires or not), as in the paper.

Both designs sample the feature's activations across their range; a reader meets a feature
through its *strongest* documents. :func:`top_fit` asks whether the label describes those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from disentangle.interpret.examples import ExampleSet
from disentangle.metrics import f1_score, pearson


@dataclass(frozen=True)
class Prediction:
    """A back end's belief, per scoring item, that the feature fires."""

    scores: np.ndarray
    """float per scoring item, aligned with ``FeatureExamples.scoring.rows``."""
    threshold: float
    """Scores above it count as "fires" for F1 (chosen without looking at scoring items)."""
    failures: int = 0
    """Items the back end could not score (e.g. unparseable LLM answers); scored as 0."""


@dataclass(frozen=True)
class BalancedDesign:
    active: int = 3
    silent: int = 3
    draws: int = 50


def score(
    items: ExampleSet, prediction: Prediction, design: BalancedDesign, seed: int
) -> dict[str, float]:
    """Pearson and F1 of one feature's predictions, on both designs."""
    truth = items.active
    fired = prediction.scores > prediction.threshold
    result = {
        "pearson": pearson(prediction.scores, truth),
        "f1": f1_score(fired, truth),
        "pearson_balanced": float("nan"),
        "f1_balanced": float("nan"),
    }
    active = np.flatnonzero(items.of_kind("top"))
    silent = np.flatnonzero(items.of_kind("random"))
    if len(active) >= design.active and len(silent) >= design.silent:
        rng = np.random.default_rng(seed)
        pearsons, f1s = [], []
        for _ in range(design.draws):
            pick = np.concatenate([rng.choice(active, design.active, replace=False),
                                   rng.choice(silent, design.silent, replace=False)])
            pearsons.append(pearson(prediction.scores[pick], truth[pick]))
            f1s.append(f1_score(fired[pick], truth[pick]))
        result["pearson_balanced"] = float(np.mean(pearsons))
        result["f1_balanced"] = float(np.mean(f1s))
    return result


def best_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The cut between sorted scores that maximises F1 (used on labelling items only)."""
    values = np.unique(scores)
    if len(values) < 2:
        return float(values[0]) if len(values) else 0.0
    cuts = (values[:-1] + values[1:]) / 2
    f1s = [f1_score(scores > cut, truth) for cut in cuts]
    return float(cuts[int(np.argmax(f1s))])


TOP_FIT_DOCUMENTS = 5
"""The strongest documents :func:`top_fit` reads: the first a reader sees on a feature's page
(and the five a label-audit judge sees)."""
FIT_BACKGROUND = 5000
"""Random documents whose cosines with a label set the scale :func:`top_fit` counts in."""


def top_fit(label_vectors: np.ndarray, top_rows: Sequence[Sequence[int]],
            embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """Per label, how far its feature's strongest documents stand out from the corpus in
    cosine with the label: the median, over the :data:`TOP_FIT_DOCUMENTS` strongest, of
    (cosine − mean) / standard deviation of the cosines of :data:`FIT_BACKGROUND` random
    documents. A fit of 5 or more says that at least three of the five lie five standard
    deviations or more above a random document in cosine with the label. NaN where a label
    has no vector (all zeros) or its feature no documents.

    Held-out Pearson rewards a label that predicts where the feature fires across its whole
    range; a label can do that through a word most of its documents hold while the strongest
    ones, which a reader judges it by, are about something narrower or different.
    """
    rng = np.random.default_rng(seed)
    count = min(len(embeddings), FIT_BACKGROUND)
    background = np.asarray(embeddings[np.sort(rng.choice(len(embeddings), count,
                                                          replace=False))], np.float32)
    cosines = background @ label_vectors.T
    mean, spread = cosines.mean(axis=0), cosines.std(axis=0)
    fit = np.full(len(label_vectors), np.nan)
    for i, rows in enumerate(top_rows):
        strongest = np.sort(np.asarray(rows[:TOP_FIT_DOCUMENTS], np.int64))
        if len(strongest) and spread[i] > 0:
            top = np.asarray(embeddings[strongest], np.float32) @ label_vectors[i]
            fit[i] = float(np.median((top - mean[i]) / spread[i]))
    return fit


TOP_COHESION_DOCUMENTS = 20
"""The strongest documents :func:`top_cohesion` reads: the first pages of a feature's list."""


def top_cohesion(top_rows: Sequence[Sequence[int]], embeddings: np.ndarray,
                 seed: int = 0) -> np.ndarray:
    """Per feature, how much more alike its :data:`TOP_COHESION_DOCUMENTS` strongest documents
    are than as many random ones: (|mean unit vector|² − its expectation for random documents)
    / (1 − the corpus's |mean|²). Near 0 when they share only a word used in several fields
    ("inverse" problems and inverse reinforcement learning; "MIR" for microRNA and the
    mid-infrared); NaN for fewer than two documents.
    """
    rng = np.random.default_rng(seed)
    count = min(len(embeddings), FIT_BACKGROUND)
    background = _unit_rows(embeddings[np.sort(rng.choice(len(embeddings), count,
                                                          replace=False))])
    base = float(np.sum(background.mean(axis=0) ** 2))
    cohesion = np.full(len(top_rows), np.nan)
    for i, rows in enumerate(top_rows):
        strongest = np.sort(np.asarray(rows[:TOP_COHESION_DOCUMENTS], np.int64))
        if len(strongest) >= 2:
            spread = float(np.sum(_unit_rows(embeddings[strongest]).mean(axis=0) ** 2))
            cohesion[i] = (spread - base - (1.0 - base) / len(strongest)) / (1.0 - base)
    return cohesion


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
