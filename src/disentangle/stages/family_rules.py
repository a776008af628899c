"""Which features may root a family, and which may sit under a root: the rules that make a
family read as a topic with its sub-topics (docs/labels.md, "Families").

A reader sees a family as its root's label over its members' labels, so:

- a **root** must be a named feature (not ``mixed``) whose label names what it fires on:
  the label's phrases occur in a good share of the documents where it is active (*recall*:
  otherwise the label is narrower than the feature, "molecular hydrogen" over interstellar
  chemistry) and most documents containing them activate it (*precision*: otherwise the
  label is a frequent word, "distance" or "phase", not a topic);
- a **member** must nest inside its root by activation and by meaning
  (:class:`~disentangle.families.nesting.Nesting`), and the root's label or keywords must
  occur in half its strongest documents, and not much less often than its own occur in
  the root's (a member broader than its root fails)
  (:class:`~disentangle.interpret.phrases.LabelCoverage`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from disentangle.families.nesting import Nesting
from disentangle.interpret.phrases import LabelCoverage, PhraseIndex, label_phrases

MIN_ROOT_RECALL = 0.3
"""Share of a root's active documents (a sample) containing its label."""
MIN_ROOT_PRECISION = 0.5
"""Share of the background documents containing a root's label on which the root is active."""
MIN_MEMBER_COVERAGE = 0.5
"""Share of a member's top documents containing its root's label or keywords."""
ROOT_SAMPLE = 150
BACKGROUND_DOCUMENTS = 5000
SEED = 0


class FamilyRules:
    """``is_root`` and ``belongs`` for :func:`~disentangle.families.build_families`."""

    def __init__(self, labels: Sequence[str], mixed: Sequence[bool], index: PhraseIndex,
                 nesting: Nesting, coverage: LabelCoverage) -> None:
        self.labels = labels
        self.mixed = mixed
        self.index = index
        self.nesting = nesting
        self.coverage = coverage
        total = len(index.texts)
        self.background = np.sort(np.random.default_rng(SEED).choice(
            total, size=min(BACKGROUND_DOCUMENTS, total), replace=False))
        self._roots: dict[int, bool] = {}

    def root_naming(self, feature: int) -> tuple[float, float]:
        """(recall, precision) of ``feature``'s label as a detector of its activity."""
        phrases = label_phrases(self.labels[feature])
        rows = self.nesting.active_rows(feature)
        if not phrases or not len(rows):
            return 0.0, 0.0
        sample = rows if len(rows) <= ROOT_SAMPLE else np.random.default_rng(
            SEED + feature).choice(rows, ROOT_SAMPLE, replace=False)
        recall = float(np.mean([self._says(int(r), phrases) for r in sample]))
        saying = [r for r in self.background if self._says(int(r), phrases)]
        precision = float(np.isin(saying, rows).mean()) if saying else 1.0
        return recall, precision

    def is_root(self, feature: int) -> bool:
        if feature not in self._roots:
            recall, precision = (0.0, 0.0) if self.mixed[feature] else self.root_naming(feature)
            self._roots[feature] = (recall >= MIN_ROOT_RECALL
                                    and precision >= MIN_ROOT_PRECISION)
        return self._roots[feature]

    def belongs(self, root: int, member: int) -> bool:
        return self.nesting.belongs(root, member) and self.coverage.belongs(root, member)

    def _says(self, row: int, phrases: Sequence[str]) -> bool:
        found = self.index.phrases(row)
        return any(p in found for p in phrases)
