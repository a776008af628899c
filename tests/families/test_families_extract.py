"""Planted hierarchies must come back exactly; each safeguard has a test that breaks without it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import sparse

from disentangle.families import (
    Family,
    build_families,
    cooccurrence,
    deduplicate,
    denser_first,
    feature_counts,
    find_roots,
    maximum_spanning_tree,
    normalised_weights,
)

from .planted import NOISE, PLANTED, planted_codes


def _build(codes, threshold=0.1, **kwargs):
    counts = feature_counts(codes)
    weights = normalised_weights(cooccurrence(codes, upper=True), counts, threshold)
    return build_families(weights, counts / len(codes), **kwargs), counts / len(codes)


def test_planted_families_recovered_exactly(planted):
    codes, truth = planted
    build, _ = _build(codes)
    found = {f.parent: sorted(f.children) for f in build.families}
    assert found == truth
    assert [f.id for f in build.families] == [0, 1, 2]
    assert all(f.iteration == 0 and f.depth == 0 for f in build.families)


def test_two_level_hierarchy_recursion():
    codes = planted_codes(PLANTED, 49, NOISE, grandparent=48)
    build, _ = _build(codes)
    found = {f.parent: (f.depth, sorted(f.children)) for f in build.families}
    everything = sorted([*PLANTED, *(c for kids in PLANTED.values() for c in kids)])
    assert found[48] == (0, everything)
    assert {p: found[p] for p in PLANTED} == {p: (1, kids) for p, kids in PLANTED.items()}
    assert len(found) == 4


def test_edges_point_from_denser_to_sparser(planted):
    codes, truth = planted
    counts = feature_counts(codes)
    density = counts / len(codes)
    tree = maximum_spanning_tree(
        normalised_weights(cooccurrence(codes, upper=True), counts), density)
    assert np.all(density[tree.parents] >= density[tree.children])
    child_to_parent = dict(zip(tree.children.tolist(), tree.parents.tolist(), strict=True))
    assert all(child_to_parent[c] == p for p, kids in truth.items() for c in kids)
    assert find_roots(tree.graph()) == sorted(truth)
    # Reversed, the leaves would be parentless with one child each: no roots at all.
    assert find_roots(tree.graph().reverse()) == []


def test_direction_tie_break_is_by_index():
    density = np.array([0.5, 0.5, 0.2])
    u, v = np.array([1, 0, 2]), np.array([0, 1, 0])
    assert denser_first(u, v, density).tolist() == [False, True, False]


def test_threshold_keeps_at_and_above_only():
    cooc = sparse.csr_matrix(np.array([[10, 1, 0], [1, 9, 2], [0, 2, 19]], np.float32))
    counts = np.array([10, 9, 19])
    weights = normalised_weights(cooc, counts, threshold=0.1).toarray()
    # 1 / (min(10, 9) + 1) = 0.1 is kept; 2 / (9 + 1) = 0.2 kept; diagonal dropped.
    assert weights[0, 1] == np.float32(0.1) and weights[1, 2] == np.float32(0.2)
    assert np.count_nonzero(weights) == 4
    assert np.count_nonzero(normalised_weights(cooc, counts, threshold=0.15).toarray()) == 2


def test_without_threshold_noise_forms_spurious_families(planted):
    codes, _ = planted
    strict, _ = _build(codes)
    loose, _ = _build(codes, threshold=0.0)
    assert not set(NOISE) & {m for f in strict.families for m in f.members}
    assert set(NOISE) & {m for f in loose.families for m in f.members}


def _nested_codes():
    big = list(range(10, 20))
    return planted_codes({1: big}, 60, list(range(30, 60)), grandparent=0,
                         extra_rows=[[2, 0]] * 60 + [[3, 0]] * 60)


def test_deduplication_keeps_the_larger_family():
    codes = _nested_codes()
    build, _ = _build(codes)
    assert [(f.parent, f.size) for f in build.families] == [(0, 13)]
    undeduplicated, _ = _build(codes, max_jaccard=1.0)
    assert sorted((f.parent, f.size) for f in undeduplicated.families) == [(0, 13), (1, 10)]


def test_deduplicate_unit():
    def fam(parent, children):
        return Family(-1, parent, children, children, 0, 0, 0.1)
    big, near, far = fam(0, [1, 2, 3, 4, 5]), fam(9, [1, 2, 3, 4]), fam(8, [6, 7, 10, 11])
    kept = deduplicate([near, far, big])
    assert [f.parent for f in kept] == [0, 8]


def test_iterations_remove_found_parents(planted):
    codes, _ = planted
    build, _ = _build(codes, iterations=3)
    assert len(build.trees) == 2  # second pass finds nothing, so iteration stops early
    assert not set(PLANTED) & set(build.trees[1].nodes.tolist())


def test_clean_mask_excludes_features(planted):
    codes, _ = planted
    clean = np.ones(codes.n_features, bool)
    clean[1] = False
    build, _ = _build(codes, clean=clean)
    assert {f.parent for f in build.families} == {0, 2}


def test_members_that_do_not_belong_are_pruned_before_the_size_rule():
    codes = planted_codes(PLANTED, 48, NOISE)
    weights = normalised_weights(cooccurrence(codes, upper=True), feature_counts(codes))
    density = feature_counts(codes) / len(codes)
    intruders = {9, 13}
    built = build_families(weights, density, np.ones(48, bool),
                           belongs=lambda root, member: member not in intruders)
    found = {f.parent: set(f.children) for f in built.families}
    assert found == {p: set(cs) - intruders for p, cs in PLANTED.items()}
    assert all(set(f.direct_children) <= set(f.children) for f in built.families)
    tiny = build_families(weights, density, np.ones(48, bool),
                          belongs=lambda root, member: member in PLANTED[2])
    assert {f.parent for f in tiny.families} == {2}  # the others fell below four members


def test_a_root_that_fails_is_root_keeps_no_family():
    codes = planted_codes(PLANTED, 48, NOISE)
    weights = normalised_weights(cooccurrence(codes, upper=True), feature_counts(codes))
    density = feature_counts(codes) / len(codes)
    built = build_families(weights, density, np.ones(48, bool), is_root=lambda f: f != 1)
    assert {f.parent for f in built.families} == {0, 2}


def test_settle_sees_all_families_and_the_size_rule_applies_again():
    codes = planted_codes(PLANTED, 48, NOISE)
    weights = normalised_weights(cooccurrence(codes, upper=True), feature_counts(codes))
    density = feature_counts(codes) / len(codes)
    seen: list[int] = []

    def settle(families: list[Family]) -> list[Family]:
        seen.extend(f.parent for f in families)
        return [replace(f, children=f.children[:3]) if f.parent == 1 else f for f in families]

    built = build_families(weights, density, np.ones(48, bool), settle=settle)
    assert sorted(seen) == [0, 1, 2]
    assert {f.parent for f in built.families} == {0, 2}  # family 1 fell to three members
    assert [f.id for f in built.families] == [0, 1]
