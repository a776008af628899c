"""Which features may root a family: those whose label names what they fire on."""

from __future__ import annotations

import numpy as np

from disentangle.codes import SparseCodes
from disentangle.families import Nesting
from disentangle.interpret.phrases import LabelCoverage, PhraseIndex
from disentangle.stages.family_rules import FamilyRules

TOPIC, FREQUENT_WORD, NARROW, MIXED, MEMBER = range(5)
LABELS = ["pulsar timing", "distance", "molecular hydrogen", "mixed: a, b", "timing noise"]


def _rules() -> FamilyRules:
    texts = (["pulsar timing arrays"] * 20                       # TOPIC fires, says it
             + ["distance ladder"] * 10                          # FREQUENT_WORD fires
             + ["the distance to the source"] * 70               # ... but is silent here
             + ["molecular hydrogen in clouds"] * 5              # NARROW fires on all 40,
             + ["interstellar ice chemistry"] * 35)              # its label says 5
    rows = ([[TOPIC, MEMBER]] * 20 + [[FREQUENT_WORD, 9]] * 10 + [[8, 9]] * 70
            + [[NARROW, MIXED]] * 40)
    indices = np.array(rows, np.int32)
    codes = SparseCodes(indices, np.ones_like(indices, np.float32), 10)
    top_rows = {TOPIC: list(range(20)), MEMBER: list(range(10)),
                FREQUENT_WORD: list(range(20, 30)), NARROW: list(range(100, 120))}
    index = PhraseIndex(texts)
    embeddings = np.ones((len(texts), 2), np.float32)
    coverage = LabelCoverage(index, {f: [label] for f, label in enumerate(LABELS)}, top_rows)
    return FamilyRules(LABELS, [f == MIXED for f in range(10)], index,
                       Nesting(codes, embeddings, top_rows), coverage)


def test_a_label_that_names_its_feature_may_root_a_family():
    rules = _rules()
    assert rules.root_naming(TOPIC) == (1.0, 1.0)
    assert rules.is_root(TOPIC)
    assert rules.belongs(TOPIC, MEMBER)


def test_a_frequent_word_does_not_root_a_family():
    recall, precision = _rules().root_naming(FREQUENT_WORD)
    assert recall == 1.0 and precision == 0.125
    assert not _rules().is_root(FREQUENT_WORD)


def test_a_label_narrower_than_its_feature_does_not_root_a_family():
    recall, precision = _rules().root_naming(NARROW)
    assert recall == 0.125 and precision == 1.0
    assert not _rules().is_root(NARROW)


def test_mixed_features_never_root_a_family():
    assert not _rules().is_root(MIXED)
