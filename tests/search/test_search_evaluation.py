"""The steering benchmark measures real retrievals: ignoring edits must show up in it."""

from __future__ import annotations

import pytest

from disentangle.search import QuerySet, evaluate_steering, load_query_set, summary_markdown
from disentangle.search import searcher as searcher_module

QUERIES = QuerySet("toy", (("topic3 topic9", "astro-ph"), ("topic11 topic20 star", "cs.LG"),
                           ("topic30 topic2", "stat.ML")), "astro-ph.EP", "exoplanets")


def run(world):
    return evaluate_steering(world["searcher"], QUERIES, density_range=(0.0, 1.0))


def test_feature_edits_move_the_numbers(world):
    table, summary = run(world)
    assert table.num_rows >= 8  # a query already holding the raised feature is skipped
    raised, lowered = summary["results"]["raise/feature"], summary["results"]["lower/feature"]
    assert raised["active_after"] > raised["active_before"]
    assert lowered["active_after"] < lowered["active_before"]
    assert raised["overlap"] < 1.0 and raised["drift"] < 1.0
    text = summary["results"]["raise/text"]
    assert raised["drift"] == pytest.approx(text["drift"], abs=0.02)  # matched drift
    assert "raise/feature" in summary_markdown([summary])


def test_ignored_edits_are_caught(world, monkeypatch):
    real = searcher_module.steer
    monkeypatch.setattr(searcher_module, "steer",
                        lambda x, code, edits, *args: real(x, code, (), *args))
    _, summary = run(world)
    raised = summary["results"]["raise/feature"]
    assert raised["active_after"] == raised["active_before"] and raised["overlap"] == 1.0


def test_bundled_query_sets_are_large_enough():
    for name in ("astro", "ml"):
        assert len(load_query_set(name).queries) >= 25
