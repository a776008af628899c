"""Exact top-k, pre-ranking filters and ANN recall."""

from __future__ import annotations

import numpy as np
import pytest

from disentangle.search import ExactIndex, FaissIndex, Filters


def brute(emb: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[int]:
    scores = emb @ q
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    return np.argsort(-scores, kind="stable")[:k].tolist()


@pytest.mark.parametrize("block", [7, 100_000])
def test_exact_index_matches_brute_force_with_and_without_masks(world, block):
    emb = world["emb"]
    index = ExactIndex(emb, block_rows=block)
    q = emb[:3] + 0.1
    for mask in (None, np.arange(len(emb)) % 3 == 0, np.arange(len(emb)) < 20):
        scores, rows = index.search(q, 10, mask)
        for i in range(3):
            assert rows[i].tolist() == brute(emb, q[i], 10, mask)
            assert np.allclose(scores[i], np.sort(emb[rows[i]] @ q[i])[::-1], atol=1e-6)


def test_short_result_lists_are_padded(world):
    emb = world["emb"]
    mask = np.zeros(len(emb), bool)
    mask[[4, 9]] = True
    _scores, rows = ExactIndex(emb).search(emb[0], 5, mask)
    assert sorted(rows[0, :2].tolist()) == [4, 9] and rows[0, 2:].tolist() == [-1, -1, -1]


def test_filters_year_category_prefix_and_features(world):
    searcher, corpus, codes = world["searcher"], world["corpus"], world["codes"]
    years = corpus.column("year").to_pylist()
    cats = corpus.column("categories").to_pylist()
    filters = Filters.from_cli("2009-2011", ["astro-ph"], require=["galaxy clusters"],
                               exclude=[9])
    result = searcher.search("topic3 topic9", k=10, filters=filters)
    assert result.hits
    for hit in result.hits:
        assert years[hit.row] is not None and 2009 <= years[hit.row] <= 2011
        assert any(c.startswith("astro-ph.") for c in cats[hit.row])
        feats = set(codes.indices[hit.row][codes.values[hit.row] > 0].tolist())
        assert 7 in feats and 9 not in feats
    mask = searcher.mask(Filters(categories=("astro-ph.EP",)))
    assert mask.sum() == sum("astro-ph.EP" in c for c in cats)
    assert searcher.mask(Filters(categories=("cs.L",))).sum() == 0  # prefixes match whole parts
    assert searcher.mask(Filters.from_cli("2010")).sum() == years.count(2010)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_ann_recall_against_exact(world, kind):
    emb = world["emb"]
    queries = emb[:50] + 0.05 * np.random.default_rng(1).standard_normal(emb[:50].shape)
    exact = ExactIndex(emb).search(queries, 10)[1]
    options = {"nlist": 16, "effort": 8} if kind == "ivf" else {"effort": 64}
    index = FaissIndex.build(emb, kind=kind, **options)
    approx = index.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall > 0.9
    mask = np.arange(len(emb)) % 2 == 0
    rows = index.search(queries, 10, mask)[1]
    assert (rows % 2 == 0).all()
