"""Family scoring reuses the interpretation pipeline on the union activation."""

from __future__ import annotations

import numpy as np

from disentangle.families import Family, family_activations
from disentangle.interpret import Prediction
from disentangle.stages.family_scoring import score_families, union_codes
from disentangle.workspace import BatchStore


class WordPredictor:
    """Says "fires" exactly where the label's word is in the document text."""

    name = "word"

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def spec(self) -> dict:
        return {}

    def label(self, batch):
        raise AssertionError("family labels are given, never learned")

    def predict(self, batch, labels):
        return [Prediction(np.array([float(label.text in self.texts[r].split())
                                     for r in ex.scoring.rows]), 0.5)
                for ex, label in zip(batch, labels, strict=True)]


def test_union_codes_match_family_activations(planted):
    codes, hierarchy = planted
    families = [Family(i, p, cs, cs, 0, 0, 0.1) for i, (p, cs) in enumerate(hierarchy.items())]
    packed = union_codes(codes, families)
    assert packed.n_features == len(families)
    assert (packed.to_csr() != family_activations(codes, families)).nnz == 0


def test_scores_are_high_for_the_right_label_only(planted, tmp_path):
    codes, hierarchy = planted
    members = [{p, *cs} for p, cs in hierarchy.items()]
    texts = [" ".join(f"topic{j}" for j, m in enumerate(members) if m & set(row[vals > 0]))
             or "noise" for row, vals in zip(codes.indices, codes.values, strict=True)]
    families = [Family(i, p, cs, cs, 0, 0, 0.1, label=f"topic{i}")
                for i, (p, cs) in enumerate(hierarchy.items())]
    families[2].label = "topic0"  # a wrong label must score badly
    scores = score_families(texts, codes, np.eye(len(codes), 4, dtype=np.float32), families,
                            WordPredictor(texts), BatchStore(tmp_path))
    assert np.allclose(scores["pearson"][:2], 1.0) and np.allclose(scores["f1"][:2], 1.0)
    assert scores["pearson"][2] < 0.5
    density = [np.mean([bool(m & set(r[v > 0])) for r, v in zip(codes.indices, codes.values,
                                                               strict=True)]) for m in members]
    assert np.allclose(scores["union_density"], density)
