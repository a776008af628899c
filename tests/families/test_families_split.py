"""Two groups of documents: how balanced, how alike."""

from __future__ import annotations

import numpy as np

from disentangle.families.split import two_groups


def test_two_separate_topics_split_into_balanced_far_groups():
    rng = np.random.default_rng(0)
    first = np.array([1.0, 0.0, 0.0]) + 0.05 * rng.standard_normal((12, 3))
    second = np.array([0.0, 1.0, 0.0]) + 0.05 * rng.standard_normal((8, 3))
    split = two_groups(np.vstack([first, second]))
    assert split.balance == 0.4
    assert split.similarity < 0.2
    assert len(set(split.groups[:12])) == 1 and len(set(split.groups[12:])) == 1
    assert split.groups[0] != split.groups[12]


def test_one_topic_splits_into_groups_that_stay_alike():
    rng = np.random.default_rng(1)
    vectors = np.array([1.0, 0.0, 0.0]) + 0.1 * rng.standard_normal((20, 3))
    assert two_groups(vectors).similarity > 0.9


def test_too_few_documents_make_no_split():
    assert two_groups(np.ones((1, 3))).balance == 0.0
    assert two_groups(np.ones((4, 3))).balance == 0.0  # identical vectors: one group
