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
  (:class:`~disentangle.interpret.phrases.LabelCoverage`); its own label must name it too
  (*precision*, as for a root, but a lower bar: a word used in every field, "universe" or
  "conference", fires another feature on most documents that use it), and must say more
  than the root's ("pulsar" under "pulsars" is the root again, not a sub-topic);
- once all families are known, a member sits under the root its documents are closest to
  in meaning (it leaves a family whose root is less close than another family's), members
  are listed best-nested first, and a family keeps the :data:`MAX_MEMBERS` best: a reader
  (and the audit packet) sees a root over a dozen sub-topics, not over every feature that
  co-occurs with it;
- a root whose members fall into two groups (by meaning: spherical 2-means of their
  documents' mean embeddings, :func:`~disentangle.families.split.two_groups`) whose
  documents meet about as often as chance (:meth:`Nesting.lift` below
  :data:`MAX_TOPIC_LIFT`) while members within each group meet more often, names two topics
  that share a word ("cluster": star clusters and galaxy clusters) and keeps no family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from disentangle.families import Family, Nesting
from disentangle.families.extract import MAX_MEMBERS
from disentangle.families.split import two_groups
from disentangle.interpret.phrases import LabelCoverage, PhraseIndex, label_phrases

MIN_ROOT_RECALL = 0.3
"""Share of a root's activation (over a sample of its active documents) on documents
containing its label."""
MIN_ROOT_PRECISION = 0.5
"""Share of the background documents containing a root's label on which the root is active."""
MIN_MEMBER_COVERAGE = 0.5
"""Share of a member's top documents containing its root's label or keywords."""
MIN_MEMBER_PRECISION = 0.3
"""Share of the background documents containing a member's label on which it is active."""
MAX_TOPIC_LIFT = 2.0
"""Two groups of members whose documents meet less often than this many times chance (while
members within each group meet more often) are two topics (demo workspace: "cluster" 1.43,
"redshift" 1.77; the other roots 2.25 and above; pairs within a group: median 3.3 and above)."""
MIN_GROUP = 2
"""Members each group needs before a root can be read as two topics."""
ROOT_SAMPLE = 150
BACKGROUND_DOCUMENTS = 5000
SEED = 0


class FamilyRules:
    """``is_root``, ``belongs`` and ``settle`` for :func:`~disentangle.families.build_families`."""

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
        self._precision: dict[int, float] = {}

    def root_naming(self, feature: int) -> tuple[float, float]:
        """(recall, precision) of ``feature``'s label as a detector of its activity. Recall
        weighs each active document by the activation: a broad feature that fires weakly on
        a whole field is still named by what it fires on strongly."""
        phrases = label_phrases(self.labels[feature])
        rows = self.nesting.active_rows(feature)
        if not phrases or not len(rows):
            return 0.0, 0.0
        activations = self.nesting.activations(feature)
        sample = np.arange(len(rows)) if len(rows) <= ROOT_SAMPLE else np.random.default_rng(
            SEED + feature).choice(len(rows), ROOT_SAMPLE, replace=False)
        says = np.array([self._says(int(rows[i]), phrases) for i in sample])
        weights = activations[sample]
        recall = float(weights[says].sum() / weights.sum())
        return recall, self.precision(feature)

    def precision(self, feature: int) -> float:
        """Share of the background documents containing ``feature``'s label on which it is
        active (1 when none does: a rare phrase, or a label without one, is no frequent word)."""
        if feature not in self._precision:
            phrases = label_phrases(self.labels[feature])
            saying = [r for r in self.background if self._says(int(r), phrases)]
            self._precision[feature] = float(np.isin(
                saying, self.nesting.active_rows(feature)).mean()) if saying else 1.0
        return self._precision[feature]

    def is_root(self, feature: int) -> bool:
        if feature not in self._roots:
            recall, precision = (0.0, 0.0) if self.mixed[feature] else self.root_naming(feature)
            self._roots[feature] = (recall >= MIN_ROOT_RECALL
                                    and precision >= MIN_ROOT_PRECISION)
        return self._roots[feature]

    def belongs(self, root: int, member: int) -> bool:
        return (self.precision(member) >= MIN_MEMBER_PRECISION
                and not self.restates(root, member)
                and self.nesting.belongs(root, member) and self.coverage.belongs(root, member))

    def restates(self, root: int, member: int) -> bool:
        """Does ``member``'s label assert only phrases its root's label asserts?"""
        phrases = set(label_phrases(self.labels[member]))
        return bool(phrases) and phrases <= set(label_phrases(self.labels[root]))

    def strength(self, root: int, member: int) -> float:
        """How well ``member`` nests under ``root``: containment times closeness."""
        return self.nesting.containment(root, member) * self.nesting.closeness(root, member)

    def settle(self, families: list[Family]) -> list[Family]:
        """Each member under the closest root, best-nested first, at most ``MAX_MEMBERS``
        per family (see the module notes)."""
        roots = {f.parent for f in families}
        settled = []
        for family in families:
            inside = set(family.children)
            # roots of families nested in this one (or holding its root) are not rivals
            rivals = [g for g in roots - inside - {family.parent} if not any(
                f.parent == g and family.parent in f.children for f in families)]
            kept = [c for c in family.children if all(
                self.nesting.closeness(g, c) <= self.nesting.closeness(family.parent, c)
                for g in rivals)]
            kept.sort(key=lambda c: (-self.strength(family.parent, c), c))
            kept = kept[:MAX_MEMBERS]
            if self.two_topics(kept):
                continue
            members = set(kept)
            settled.append(replace(family, children=kept, direct_children=[
                c for c in family.direct_children if c in members]))
        return settled

    def two_topics(self, members: Sequence[int]) -> bool:
        """Do ``members`` fall into two groups by meaning whose members meet within a group
        (median pair lift ≥ ``MAX_TOPIC_LIFT``) but not across (lift of the groups below it)?"""
        if len(members) < 2 * MIN_GROUP:
            return False
        centroids = np.stack([self.nesting.centroid(m) for m in members])
        groups = two_groups(centroids - centroids.mean(axis=0))
        first = [m for m, g in zip(members, groups, strict=True) if g == 0]
        second = [m for m, g in zip(members, groups, strict=True) if g == 1]
        if min(len(first), len(second)) < MIN_GROUP:
            return False
        within = [self.nesting.lift([a], [b]) for group in (first, second)
                  for i, a in enumerate(group) for b in group[i + 1:]]
        return self.nesting.lift(first, second) < MAX_TOPIC_LIFT <= float(np.median(within))

    def _says(self, row: int, phrases: Sequence[str]) -> bool:
        found = self.index.phrases(row)
        return any(p in found for p in phrases)
