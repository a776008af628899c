"""Hybrid ranking: exact under any index, a no-op without edits, and it blends rather than
replaces the query."""

from __future__ import annotations

import math

import numpy as np
import pytest

from disentangle.errors import DisentangleError
from disentangle.search import Filters, down, up
from disentangle.search.hybrid import (
    RAISED_PER_STRENGTH,
    REACH,
    FeatureTerms,
    adaptive_pool,
    hybrid_rank,
    parse_pool,
)

from .presence import active

QUERY = "topic3 topic9 telescope"


def brute_force(world, vector, weights, blend, mask=None, pool=None):
    """The hybrid score of every document, computed densely; documents outside the dense top
    ``pool`` (within the mask) score -inf."""
    searcher = world["searcher"]
    dense = world["emb"] @ vector
    if mask is not None:
        dense[~mask] = -np.inf
    score = dense.copy()
    for feature, weight in weights.items():
        rows, values = searcher.features.activations(feature)
        score[rows] += blend * weight * np.minimum(values / searcher.typical[feature], 1.0)
    if pool is not None:
        score[np.argsort(-dense, kind="stable")[pool:]] = -np.inf
    if mask is not None:
        score[~mask] = -np.inf
    return score


@pytest.mark.parametrize("weights", [{12: 1.0}, {12: 2.0, 30: -1.0}, {3: -1.0}])
@pytest.mark.parametrize("pool", [None, 60, "auto"])
def test_hybrid_top_k_equals_brute_force(world, weights, pool):
    searcher = world["searcher"]
    x = searcher.embed(QUERY)
    mask = searcher.metadata.year_mask(2009, 2015)
    for m in (None, mask):
        terms = FeatureTerms.build(searcher.features, weights, searcher.typical, 0.2)
        scores, rows, sims, pooled = hybrid_rank(searcher.index, world["emb"], x, 10, terms, m,
                                                 pool)
        assert pooled == (60 if pool == 60 else pooled if pool == "auto" else None)
        expected = brute_force(world, x, weights, 0.2, m, pooled)
        order = np.lexsort((np.arange(len(expected)), -expected))[:10]
        assert rows.tolist() == order.tolist()
        assert np.allclose(scores, expected[order], atol=1e-5)
        assert np.allclose(sims, world["emb"][rows] @ x, atol=1e-5)


def test_unedited_query_is_plain_dense_search_at_any_blend(world):
    searcher = world["searcher"]
    x = searcher.embed(QUERY)
    dense = world["emb"] @ x
    expected = np.argsort(-dense, kind="stable")[:10]
    for blend in (0.0, 0.15, 1.0):
        result = searcher.search(QUERY, k=10, blend=blend)
        assert [h.row for h in result.hits] == expected.tolist()
        assert all(h.boost == 0.0 and h.score == h.similarity for h in result.hits)
        assert result.boost_share == 0.0 and result.blend == 0.0


def test_blend_raises_presence_without_moving_the_vector_further(world):
    searcher, codes = world["searcher"], world["codes"]
    _, code, _ = searcher.steer(QUERY)
    target = next(f for f in range(10, 48) if f not in code and searcher.features.density[f] > 0.02)
    before = [h.row for h in searcher.search(QUERY, k=10).hits]
    dense = searcher.search(QUERY, [up(target, 1.0)], k=10, blend=0.0)
    hybrid = searcher.search(QUERY, [up(target, 1.0)], k=10, blend=0.5)
    rows = [h.row for h in hybrid.hits]
    assert active(codes, rows, target) > active(codes, [h.row for h in dense.hits], target)
    assert active(codes, rows, target) >= active(codes, before, target) + 0.4
    assert hybrid.drift == dense.drift  # the blend adds a term; it does not move the vector
    assert 0.0 < hybrid.boost_share < 1.0 and hybrid.blend == 0.5


def test_lowering_with_blend_empties_the_results_of_the_feature(world):
    searcher, codes = world["searcher"], world["codes"]
    _, code, _ = searcher.steer(QUERY)
    target = max(code, key=code.get)
    before = [h.row for h in searcher.search(QUERY, k=10).hits]
    after = [h.row for h in searcher.search(QUERY, [down(target)], k=10, blend=1.0).hits]
    assert active(codes, before, target) > 0.5
    assert active(codes, after, target) == 0.0


def test_pool_keeps_hits_among_the_steered_querys_neighbours(world):
    searcher = world["searcher"]
    _, code, _ = searcher.steer(QUERY)
    target = next(f for f in range(10, 48) if f not in code and searcher.features.density[f] > 0.02)
    edits = [up(target, 1.0)]
    steered = searcher.steer(QUERY, edits)[2].vector
    nearest = set(np.argsort(-(world["emb"] @ steered), kind="stable")[:40].tolist())
    pooled = searcher.search(QUERY, edits, k=10, blend=2.0, pool=40)
    everywhere = searcher.search(QUERY, edits, k=10, blend=2.0, pool=None)
    assert {h.row for h in pooled.hits} <= nearest
    assert not {h.row for h in everywhere.hits} <= nearest  # the pool is what keeps them
    assert pooled.pool == 40 and everywhere.pool is None
    with pytest.raises(Exception, match="pool"):
        searcher.search(QUERY, edits, pool=0)


def test_filters_still_apply_to_boosted_documents(world):
    searcher = world["searcher"]
    result = searcher.search(QUERY, [up(12, 2.0)], k=10, blend=1.0,
                             filters=Filters(year_min=2010, year_max=2011))
    assert result.hits and all(h.year in (2010, 2011) for h in result.hits)


def test_blend_out_of_range_is_one_clear_error(world):
    from disentangle.errors import DisentangleError
    with pytest.raises(DisentangleError, match="blend"):
        world["searcher"].search(QUERY, [up(12)], blend=-1.0)


def test_adaptive_pool_stops_after_enough_favoured_documents_within_reach():
    sims = np.linspace(0.9, 0.3, 400).astype(np.float32)
    reach = int((sims >= sims[9] - REACH).sum())
    gains = np.zeros(400, np.float32)
    favoured = 3 + 20 * np.arange(2 * RAISED_PER_STRENGTH)  # rows 3, 23, 43, …
    gains[favoured] = 0.5
    need = RAISED_PER_STRENGTH
    assert favoured[2 * need - 1] >= reach > favoured[need - 1]
    assert adaptive_pool(sims, gains, 10, 1.0) == favoured[need - 1] + 1
    assert adaptive_pool(sims, gains, 10, 0.5) == favoured[math.ceil(need / 2) - 1] + 1
    assert adaptive_pool(sims, gains, 10, 2.0) == reach  # not that many within reach
    assert adaptive_pool(sims, gains, 10, 0.0) == reach  # nothing raised: all within reach
    gains[:10] = 0.5
    assert adaptive_pool(sims, gains, 10, 1.0) == 10  # never fewer than k
    gains[:] = -0.5
    assert adaptive_pool(sims, gains, 10, 1.0) == reach
    assert adaptive_pool(sims[:0], gains[:0], 10, 1.0) == 0


def test_auto_pool_brings_in_more_of_the_raised_feature_as_strength_grows(world):
    searcher, codes = world["searcher"], world["codes"]
    _, code, _ = searcher.steer(QUERY)
    target = next(f for f in range(10, 48) if f not in code and searcher.features.density[f] > 0.02)
    shares = []
    for strength in (0.5, 1.0, 2.0):
        result = searcher.search(QUERY, [up(target, strength)], k=10)
        steered = searcher.steer(QUERY, [up(target, strength)])[2].vector
        nearest = np.argsort(-(world["emb"] @ steered), kind="stable")[:result.pool]
        assert result.pool_rule == "auto" and {h.row for h in result.hits} <= set(nearest.tolist())
        shares.append(active(codes, [h.row for h in result.hits], target))
    assert shares[0] <= shares[1] <= shares[2] and shares[2] > shares[0]


def test_lowering_next_to_a_raise_is_capped_at_half(world):
    searcher = world["searcher"]
    _, code, _ = searcher.steer(QUERY)
    strongest = max(code, key=code.get)
    alone = searcher.search(QUERY, [down(strongest)], k=10)
    combined = searcher.search(QUERY, [up(12), down(strongest)], k=10)
    assert [(e.op, e.value) for e in alone.edits] == [("remove", 0.0)]
    assert [(e.op, e.value) for e in combined.edits if e.feature == strongest] == [("scale", 0.5)]
    edited = searcher.steer(QUERY, [up(12), down(strongest)])[2].code
    assert edited[strongest] == pytest.approx(code[strongest] / 2)  # halved, not removed
    assert strongest not in searcher.steer(QUERY, [down(strongest)])[2].code


def test_pool_is_parsed_from_text():
    assert parse_pool("auto") == "auto" and parse_pool(" AUTO ") == "auto"
    assert parse_pool("275") == 275 and parse_pool(275) == 275
    assert parse_pool("0") is None and parse_pool("all") is None and parse_pool(0) is None
    for bad in ("-3", "many", "100001"):
        with pytest.raises(DisentangleError, match="pool"):
            parse_pool(bad)
