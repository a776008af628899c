"""Whether one feature's documents sit inside another's, read from the codes and embeddings.

The spanning tree joins a feature to the denser neighbour it co-occurs with most, which may be
a weak link: a word two topics share ("radio" in radio astronomy and cognitive radio) makes
their features co-occur on a few documents. Two tests on a member's *strongest* documents
(those that define what it is about) catch such links without reading any label:

- *containment*: the root is active on most of them (the nesting the co-occurrence tree
  implies, checked where it matters instead of on average);
- *closeness*: their mean embedding is close to the mean embedding of the root's strongest
  documents (a shared word does not make two topics' papers alike).

The same readings tell whether a root's members are one topic's sub-topics or two topics
that share a word (``lift``): sub-topics of one topic meet on documents more often than
chance (the topic's papers hold both), two topics that share only a word ("cluster": star
clusters and galaxy clusters) meet no more often than unrelated features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from disentangle.codes import SparseCodes

MIN_CONTAINMENT = 0.5
"""Share of a member's top documents on which the root must be active."""
MIN_CLOSENESS = 0.6
"""Cosine between the mean embeddings of the root's and the member's top documents."""


class Nesting:
    """Containment and closeness of features' top documents (see the module notes)."""

    def __init__(self, codes: SparseCodes, embeddings: np.ndarray,
                 top_rows: Mapping[int, Sequence[int]], min_containment: float = MIN_CONTAINMENT,
                 min_closeness: float = MIN_CLOSENESS) -> None:
        self.active = codes.to_csr().tocsc()
        self.embeddings = embeddings
        self.top_rows = {int(f): np.asarray(rows, np.int64) for f, rows in top_rows.items()}
        self.min_containment = min_containment
        self.min_closeness = min_closeness
        self._centroids: dict[int, np.ndarray] = {}
        self._rows: dict[int, set[int]] = {}

    def active_rows(self, feature: int) -> np.ndarray:
        """The documents where ``feature`` is active, in row order."""
        return self.active.indices[self.active.indptr[feature]:self.active.indptr[feature + 1]]

    def activations(self, feature: int) -> np.ndarray:
        """``feature``'s activations on :meth:`active_rows`, in the same order."""
        return self.active.data[self.active.indptr[feature]:self.active.indptr[feature + 1]]

    def containment(self, root: int, member: int) -> float:
        """Share of ``member``'s top documents on which ``root`` is active."""
        rows = self.top_rows.get(member)
        if rows is None or not len(rows):
            return 0.0
        return float(np.isin(rows, self.active_rows(root)).mean())

    def centroid(self, feature: int) -> np.ndarray:
        """Unit mean embedding of ``feature``'s top documents (zeros when it has none)."""
        if feature not in self._centroids:
            rows = self.top_rows.get(feature)
            if rows is None or not len(rows):
                self._centroids[feature] = np.zeros(self.embeddings.shape[1])
                return self._centroids[feature]
            vectors = np.asarray(self.embeddings[np.sort(rows)], np.float64)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            mean = vectors.mean(axis=0)
            norm = np.linalg.norm(mean)
            self._centroids[feature] = mean / norm if norm > 0 else mean
        return self._centroids[feature]

    def lift(self, group: Sequence[int], other: Sequence[int]) -> float:
        """Documents where a feature of each group is active, over what independent groups
        would share (1: no more than chance; inf when either group is silent)."""
        first, second = self._union(group), self._union(other)
        if not first or not second:
            return float("inf")
        return len(first & second) * self.active.shape[0] / (len(first) * len(second))

    def _union(self, features: Sequence[int]) -> set[int]:
        rows: set[int] = set()
        for feature in features:
            if feature not in self._rows:
                self._rows[feature] = set(self.active_rows(feature).tolist())
            rows |= self._rows[feature]
        return rows

    def closeness(self, root: int, member: int) -> float:
        return float(self.centroid(root) @ self.centroid(member))

    def belongs(self, root: int, member: int) -> bool:
        return (self.containment(root, member) >= self.min_containment
                and self.closeness(root, member) >= self.min_closeness)
