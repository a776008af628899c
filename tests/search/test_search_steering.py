"""Steering semantics: identity without edits, edits move what they name, explanations add up."""

from __future__ import annotations

import numpy as np
import pytest

from disentangle.search import Edit, down, up
from disentangle.search.steer import steer

from .presence import active

QUERY = "topic3 topic9 telescope"


def test_residual_without_edits_is_the_query_and_plain_dense_search(world):
    searcher = world["searcher"]
    x, _code, steered = searcher.steer(QUERY)
    assert np.array_equal(steered.vector, x) and steered.drift == 1.0
    result = searcher.search(QUERY, k=10)
    dense = world["emb"] @ x
    expected = np.argsort(-dense, kind="stable")[:10]
    assert [h.row for h in result.hits] == expected.tolist()
    assert np.allclose([h.score for h in result.hits], dense[expected], atol=1e-6)


def test_residual_keeps_what_reconstruction_drops(world):
    searcher = world["searcher"]
    _, _, reconstructed = searcher.steer(QUERY, mode="reconstruction")
    assert reconstructed.drift < 0.999  # decoding the code alone moves an unedited query


@pytest.mark.parametrize("mode", ["residual", "reconstruction", "clamp"])
def test_removing_a_feature_lowers_it_in_the_steered_query(world, mode):
    searcher = world["searcher"]
    _x, code, _ = searcher.steer(QUERY)
    target = max(code, key=code.get)
    _, _, steered = searcher.steer(QUERY, [down(target)], mode=mode)
    assert searcher.encode(steered.vector).get(target, 0.0) < 0.5 * code[target]
    assert steered.drift < 1.0


def test_raising_an_absent_feature_fills_the_hits_with_it(world):
    searcher, codes = world["searcher"], world["codes"]
    _, code, _ = searcher.steer(QUERY)
    target = next(f for f in range(10, 48) if f not in code and searcher.features.density[f] > 0.02)
    before = [h.row for h in searcher.search(QUERY, k=10).hits]
    result = searcher.search(QUERY, [up(target, 1.5)], k=10)
    after = [h.row for h in result.hits]
    assert active(codes, after, target) > active(codes, before, target) + 0.5
    assert result.drift < 1.0
    assert any(f.feature == target and f.original == 0.0 for f in result.steered_features)


def test_scale_set_and_add_edits_reach_the_code(world):
    searcher = world["searcher"]
    _, code, _ = searcher.steer(QUERY)
    f = max(code, key=code.get)
    for edit, expected in [(Edit(f, "scale", 2.0), 2 * code[f]), (Edit(f, "set", 0.2), 0.2),
                           (Edit(f, "add", 0.5), code[f] + 0.5)]:
        _, _, steered = searcher.steer(QUERY, [edit])
        assert steered.code[f] == pytest.approx(expected)


def test_clamp_sets_the_projection_exactly(world):
    searcher = world["searcher"]
    x, _, _ = searcher.steer(QUERY)
    steered = steer(x, {}, searcher.resolve([Edit(3, "set", 0.0), Edit(9, "set", 0.0)]),
                    searcher.decoder, searcher.b_pre, searcher.typical, "clamp")
    projections = searcher.decoder[[3, 9]] @ (steered.vector - searcher.b_pre)
    assert np.allclose(projections, 0.0, atol=1e-5)


def test_explanations_add_up_to_the_score(world):
    result = world["searcher"].search(QUERY, [up("galaxy clusters")], k=5)
    for hit in result.hits:
        total = sum(c.contribution for c in hit.explanation) + hit.other + hit.boost
        assert total == pytest.approx(hit.score, abs=1e-6)
        assert hit.similarity + hit.boost == pytest.approx(hit.score, abs=1e-6)
        assert all(c.contribution > 0 for c in hit.explanation)
        assert list(hit.explanation) == sorted(hit.explanation, key=lambda c: -c.contribution)
    assert result.hits[0].explanation, "the best hit shares at least one feature"
    assert result.to_dict()["hits"][0]["explanation"]


def test_query_features_carry_labels_and_top_titles(world):
    features = world["searcher"].query_features(QUERY, top=2)
    assert [f.feature for f in features] in ([3, 9], [9, 3])
    assert features[0].label == f"topic {features[0].feature} label"
    assert len(features[0].top_titles) == 3
