"""Which features may root a family: those whose label names what they fire on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from disentangle.codes import SparseCodes
from disentangle.families import Family, Nesting
from disentangle.families.extract import MAX_MEMBERS
from disentangle.interpret.phrases import LabelCoverage, PhraseIndex
from disentangle.stages.family_rules import FamilyRules

TOPIC, FREQUENT_WORD, NARROW, MIXED, MEMBER, BROAD = range(6)
LABELS = ["pulsar timing", "distance", "molecular hydrogen", "mixed: a, b", "timing noise",
          "gravitational waves"]


def _rules() -> FamilyRules:
    texts = (["pulsar timing arrays"] * 20                       # TOPIC fires, says it
             + ["distance ladder"] * 10                          # FREQUENT_WORD fires
             + ["the distance to the source"] * 70               # ... but is silent here
             + ["molecular hydrogen in clouds"] * 5              # NARROW fires on all 40,
             + ["interstellar ice chemistry"] * 35               # its label says 5
             + ["gravitational waves from mergers"] * 10         # BROAD fires strongly,
             + ["compact object populations"] * 40)              # and weakly on 40 more
    rows = ([[TOPIC, MEMBER]] * 20 + [[FREQUENT_WORD, 9]] * 10 + [[8, 9]] * 70
            + [[NARROW, MIXED]] * 40 + [[BROAD, 8]] * 50)
    indices = np.array(rows, np.int32)
    values = np.ones_like(indices, np.float32)
    values[-40:, 0] = 0.05
    codes = SparseCodes(indices, values, 10)
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


def test_a_broad_feature_is_named_by_what_it_fires_on_strongly():
    # unweighted, its label is in 10 of its 50 documents (0.2); by activation in 10 / 12
    recall, precision = _rules().root_naming(BROAD)
    assert recall == pytest.approx(10 / 12) and precision == 1.0
    assert _rules().is_root(BROAD)


def test_mixed_features_never_root_a_family():
    assert not _rules().is_root(MIXED)


def test_a_member_named_by_a_frequent_word_or_by_its_roots_name_does_not_belong():
    rules = _rules()
    assert rules.precision(FREQUENT_WORD) == 0.125  # "distance": 10 of the 80 documents
    assert not rules.belongs(TOPIC, FREQUENT_WORD)
    rules.labels = [*LABELS[:4], "pulsar timing"]  # the member restates its root's name
    assert rules.restates(TOPIC, MEMBER) and not rules.belongs(TOPIC, MEMBER)


def _settling(active: dict[int, Sequence[int]], top: dict[int, range],
              directions: dict[int, list[float]], documents: int = 200) -> FamilyRules:
    """Rules over features active on the given documents; a feature's top documents point in
    its direction (embeddings), other documents along the last axis."""
    rows: list[list[int]] = [[] for _ in range(documents)]
    for feature, where in active.items():
        for row in where:
            rows[row].append(feature)
    width = max(len(r) for r in rows)
    indices = np.array([r + [0] * (width - len(r)) for r in rows], np.int32)
    values = np.array([[1.0] * len(r) + [0.0] * (width - len(r)) for r in rows], np.float32)
    embeddings = np.zeros((documents, 4), np.float32)
    embeddings[:, 3] = 1.0
    for feature, where in top.items():
        embeddings[list(where)] = directions[feature]
    top_rows = {f: list(where) for f, where in top.items()}
    texts = ["text"] * documents
    index = PhraseIndex(texts)
    labels = [f"label {f}" for f in range(30)]
    nesting = Nesting(SparseCodes(indices, values, 30), embeddings, top_rows)
    return FamilyRules(labels, [False] * 30, index, nesting,
                       LabelCoverage(index, {}, top_rows))


def _family(parent: int, children: list[int]) -> Family:
    return Family(0, parent=parent, children=children, direct_children=children, depth=0,
                  iteration=0, density=0.5)


def test_a_member_moves_to_the_root_its_documents_are_closest_to():
    x, y, near_y = [1.0, 0, 0, 0], [0, 1.0, 0, 0], [0.3, 1.0, 0, 0]
    rules = _settling(active={0: range(100), 1: range(100, 200), 2: range(0, 10)},
                      top={0: range(0, 5), 1: range(100, 105), 2: range(5, 10)},
                      directions={0: x, 1: y, 2: near_y})
    settled = rules.settle([_family(0, [2]), _family(1, [])])
    assert settled[0].children == [] and settled[0].direct_children == []
    assert rules.settle([_family(0, [2])])[0].children == [2]  # no rival root: it stays


def test_members_are_listed_best_nested_first_and_capped():
    root = [1.0, 0, 0, 0]
    members = list(range(1, MAX_MEMBERS + 3))
    # member m: 10 top documents, all inside the root's; closer to the root as m grows; all
    # members also meet on documents 150-199 (one topic's sub-topics)
    top = {0: range(0, 10), **{m: range(10 * m, 10 * m + 10) for m in members}}
    directions = {0: root, **{m: [1.0, 1.0 / m, 0, 0] for m in members}}
    active = {0: range(200), **{m: [*top[m], *range(150, 200)] for m in members}}
    rules = _settling(active, top, directions, documents=2000)
    settled = rules.settle([_family(0, members)])[0]
    assert settled.children == sorted(members, reverse=True)[:MAX_MEMBERS]


def _two_groups(shift: int, gap: int = 10) -> FamilyRules:
    """Root 0 over members 1, 2 (one meaning) and 3, 4 (another). Members 1 and 2 share
    documents unless ``gap`` is 20, as do 3 and 4; the groups share more documents as
    ``shift`` grows (none at 0)."""
    x, y = [1.0, 0.2, 0, 0], [0.2, 1.0, 0, 0]
    active = {0: range(120), 1: range(0, 20), 2: range(gap, gap + 20),
              3: range(40 - shift, 60 - shift), 4: range(40 - shift + gap, 60 - shift + gap)}
    top = {0: range(100, 110), 1: range(0, 5), 2: range(25, 30),
           3: range(55 - shift, 60 - shift), 4: range(65 - shift, 70 - shift)}
    return _settling(active, top, {0: [1.0, 1.0, 0, 0], 1: x, 2: x, 3: y, 4: y})


def test_a_root_over_two_topics_that_never_meet_keeps_no_family():
    rules = _two_groups(shift=0)
    assert rules.nesting.lift([1, 2], [3, 4]) == 0.0
    assert rules.nesting.lift([1], [2]) == 10 * 200 / (20 * 20)  # within a topic they meet
    assert rules.two_topics([1, 2, 3, 4])
    assert rules.settle([_family(0, [1, 2, 3, 4])]) == []


def test_a_root_over_sub_topics_that_meet_keeps_its_family():
    rules = _two_groups(shift=25)  # the groups share documents 15-29
    assert rules.nesting.lift([1, 2], [3, 4]) == 15 * 200 / (30 * 30)
    assert not rules.two_topics([1, 2, 3, 4])
    assert not rules.two_topics([1, 2, 3])  # too few members to read two groups
    assert len(rules.settle([_family(0, [1, 2, 3, 4])])) == 1


def test_members_that_never_meet_at_all_are_not_read_as_two_topics():
    rules = _two_groups(shift=0, gap=20)  # no two members share a document
    assert rules.nesting.lift([1], [2]) == 0.0
    assert not rules.two_topics([1, 2, 3, 4])
