"""Score a family like a feature: its label, judged on held-out documents where any member fires.

The interpretation pipeline is reused unchanged. A family's union activation (summed member
activations, nonzero where any member is active) is packed as :class:`SparseCodes` whose
"features" are families, so the example selector draws top, uniform, random-silent and
hard-negative documents exactly as it does for features, with the labelling/scoring split
that keeps the score held out. Labels are not learned here: :class:`GivenLabels` hands the
pipeline the family labels (made from member labels) and delegates prediction to a real back
end (the offline one scores by label-embedding cosine).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.codes import SparseCodes
from disentangle.families import Family, family_activations
from disentangle.interpret import Backend, FeatureExamples, Label, Prediction, interpret_features
from disentangle.workspace import BatchStore

SCORES = ("pearson", "f1", "pearson_balanced", "f1_balanced")


class GivenLabels:
    """A back end whose labels are fixed in advance; prediction goes to ``predictor``."""

    def __init__(self, labels: Sequence[str], predictor: Backend) -> None:
        self.labels = list(labels)
        self.predictor = predictor
        self.name = f"given-{predictor.name}"

    def spec(self) -> dict[str, Any]:
        """Includes a hash of the labels, so relabelled families are scored afresh."""
        digest = hashlib.sha256(json.dumps(self.labels).encode()).hexdigest()[:12]
        return {"labels": digest, "predictor": self.predictor.spec()}

    def label(self, batch: Sequence[FeatureExamples]) -> list[Label]:
        return [Label(self.labels[examples.feature]) for examples in batch]

    def predict(
        self, batch: Sequence[FeatureExamples], labels: Sequence[Label]
    ) -> list[Prediction]:
        return self.predictor.predict(batch, labels)


def union_codes(codes: SparseCodes, families: Sequence[Family]) -> SparseCodes:
    """Family activations as codes: per document, the active families (padded with zeros)."""
    matrix = family_activations(codes, families)
    matrix.sort_indices()
    per_doc = np.diff(matrix.indptr)
    width = max(int(per_doc.max(initial=0)), 1)
    rows = np.repeat(np.arange(len(codes)), per_doc)
    slots = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], per_doc)
    indices = np.zeros((len(codes), width), np.int32)
    values = np.zeros((len(codes), width), np.float32)
    indices[rows, slots] = matrix.indices
    values[rows, slots] = matrix.data
    return SparseCodes(indices, values, len(families))


def score_families(
    texts: Sequence[str],
    codes: SparseCodes,
    embeddings: np.ndarray,
    families: Sequence[Family],
    predictor: Backend,
    batches: BatchStore,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, list[float]]:
    """Per family (in ``families`` order): Pearson and F1 on both designs, and the density
    of the union (``union_density``). Resumable like feature interpretation."""
    if not families:
        return {name: [] for name in (*SCORES, "union_density")}
    labels = [family.label or "" for family in families]
    table: pa.Table = interpret_features(texts, union_codes(codes, families), embeddings,
                                         GivenLabels(labels, predictor), batches,
                                         on_batch=on_batch)
    table = table.sort_by("feature")
    result = {name: table.column(name).to_pylist() for name in SCORES}
    result["union_density"] = table.column("density").to_pylist()
    return result
