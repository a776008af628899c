"""Two groups of vectors by meaning."""

from __future__ import annotations

import numpy as np

from disentangle.families.split import two_groups


def test_two_separate_directions_split_exactly():
    rng = np.random.default_rng(0)
    first = np.array([1.0, 0.0, 0.0]) + 0.05 * rng.standard_normal((12, 3))
    second = np.array([0.0, 1.0, 0.0]) + 0.05 * rng.standard_normal((8, 3))
    groups = two_groups(np.vstack([first, second]))
    assert len(set(groups[:12])) == 1 and len(set(groups[12:])) == 1
    assert groups[0] != groups[12]


def test_the_split_follows_direction_not_length():
    vectors = np.array([[1.0, 0.0], [5.0, 0.2], [0.0, 1.0], [0.3, 9.0]])
    groups = two_groups(vectors)
    assert groups[0] == groups[1] != groups[2] == groups[3]


def test_rows_that_do_not_split_stay_in_one_group():
    assert two_groups(np.ones((1, 3))).tolist() == [0]
    assert set(two_groups(np.ones((4, 3))).tolist()) == {0}  # identical vectors
