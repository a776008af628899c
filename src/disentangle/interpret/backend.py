"""The contract every labelling back end meets, so the pipeline treats offline and LLM alike.

A back end works on a batch of features at a time: the offline one embeds all candidate
phrases of the batch in one call, the LLM one sends the batch's requests concurrently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from disentangle.interpret.examples import FeatureExamples
from disentangle.interpret.scoring import Prediction


@dataclass(frozen=True)
class Label:
    text: str
    """1–8 words; empty when the back end could not produce one."""
    evidence: str = ""
    """Why this label: key phrases with their scores, or the LLM's reasoning."""
    failed: bool = False
    """True when the answer could not be parsed (counted, never silently dropped)."""
    keywords: tuple[str, ...] = ()
    """Further phrases of the feature's documents, shown beside the label (offline only)."""
    contrast: str = ""
    """A phrase of topical neighbours where the feature is silent (what it is *not*)."""
    mixed: bool = False
    """No phrase covers the feature's top documents. ``text`` lists some ("mixed: a, b, c"),
    or is its best phrase when its strongest documents are alike (a topic no phrase names)."""
    phrase: str = ""
    """What prediction reads when it is not ``text`` (a mixed feature's best phrase)."""
    alternatives: tuple[str, ...] = ()
    """Phrases many of its top documents hold, best first, to tell it apart when another
    feature keeps ``text``: "text (alternative)" (offline only)."""


class Embedder(Protocol):
    """Maps text into the space of the documents' embeddings (phrases, labels)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class Backend(Protocol):
    name: str

    def spec(self) -> dict[str, Any]:
        """Settings that change results; part of the key under which results are kept."""
        ...

    def label(self, batch: Sequence[FeatureExamples]) -> list[Label]:
        """One label per feature, from its labelling examples only."""
        ...

    def predict(
        self, batch: Sequence[FeatureExamples], labels: Sequence[Label]
    ) -> list[Prediction]:
        """Per feature, scores for its scoring items, from the label text only."""
        ...
