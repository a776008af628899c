"""The steering benchmark measures real retrievals: ignoring edits must show up in it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from disentangle.errors import DisentangleError
from disentangle.search import (
    QuerySet,
    evaluate_steering,
    load_query_set,
    summarise,
    summary_markdown,
    targets,
)
from disentangle.search import searcher as searcher_module
from disentangle.search.evaluation import GroundTruth, draw_cases, read_rewrites

QUERIES = QuerySet("toy", (("topic3 topic9", "astro-ph.GA"), ("topic11 topic20 star", "cs.LG"),
                           ("topic30 topic2", "stat.ML")), ("astro-ph", "cs", "stat", "hep-th"))
ALL = range(48)


def run(world, **options):
    table, cases = evaluate_steering(world["searcher"], QUERIES, interpretable=ALL,
                                     density_range=(0.0, 1.0), strengths=(0.5, 2.0), **options)
    return table, cases, {(e["op"], e["method"], e["strength"]): e for e in summarise(table)}


def test_draws_are_seeded_absent_and_lowered_is_the_strongest_interpretable(world):
    searcher = world["searcher"]
    first = draw_cases(searcher, QUERIES, ALL, density_range=(0.0, 1.0))
    again = draw_cases(searcher, QUERIES, ALL, density_range=(0.0, 1.0))
    other = draw_cases(searcher, QUERIES, ALL, seed=7, density_range=(0.0, 1.0))
    assert first == again and len(first) == 3
    assert [c.raised for c in first] != [c.raised for c in other] or len(ALL) < 3
    for case in first:
        code = searcher.encode(searcher.embed(case.query))
        assert case.raised not in code
        assert case.lowered == max(code, key=code.get)
    interpretable = [f for f in ALL if f != first[0].lowered]
    assert draw_cases(searcher, QUERIES, interpretable, density_range=(0.0, 1.0))[0].lowered \
        != first[0].lowered


def test_feature_edits_move_the_numbers(world):
    table, cases, summary = run(world)
    assert table.num_rows == len(cases) * 3 * (2 * 3 + 3)
    none, hybrid = summary[("raise", "none", 0.0)], summary[("raise", "hybrid", 2.0)]
    assert hybrid["raised_codes"] > none["raised_codes"]
    lowered = summary[("lower", "hybrid", 2.0)]
    assert lowered["lowered_codes"] < summary[("lower", "none", 0.0)]["lowered_codes"]
    template = summary[("raise", "template", None)]
    matched = next(e for (op, m, _), e in summary.items()
                   if op == "raise" and m == "dense@template")
    assert matched["drift"] == pytest.approx(template["drift"], abs=0.01)
    assert summary[("raise", "dense", 0.5)]["drift"] > summary[("raise", "dense", 2.0)]["drift"]
    markdown = summary_markdown(list(summary.values()))
    assert "| toy | raise | hybrid | 2.00 |" in markdown
    assert {"set", "default_met"} <= set(targets(list(summary.values()), 2.0)[0])


def test_ignored_edits_are_caught(world, monkeypatch):
    real = searcher_module.Searcher.rank
    monkeypatch.setattr(searcher_module.Searcher, "rank",
                        lambda self, vector, k, mask=None, terms=None, pool=None:
                        real(self, vector, k, mask))
    monkeypatch.setattr("disentangle.search.evaluation.steer",
                        lambda x, code, edits, *args: searcher_module.steer(x, code, (), *args))
    _, _, summary = run(world)
    hybrid, none = summary[("raise", "hybrid", 2.0)], summary[("raise", "none", 0.0)]
    assert hybrid["raised_codes"] == none["raised_codes"] and hybrid["overlap"] == 1.0


def test_an_llm_rewriter_is_asked_with_the_feature_names(world):
    asked = []

    def rewriter(query, raised, lowered):
        asked.append((query, raised, lowered))
        return f"{query} {raised or ''}"

    recorded = []
    _, cases, summary = run(world, llm=rewriter, rewrites=recorded)
    assert ("raise", "llm", None) in summary and len(asked) == 3 * len(cases)
    assert any(lowered is None and raised for _, raised, lowered in asked)
    matched = next(e for (op, m, _), e in summary.items() if op == "both" and m == "hybrid@llm")
    assert matched["drift"] == pytest.approx(summary[("both", "llm", None)]["drift"], abs=0.01)
    assert [(r["query"], r["raised"], r["lowered"]) for r in recorded] == asked


def test_rewrites_read_back_from_a_file_give_the_same_numbers(world, tmp_path):
    recorded = []
    table, _, _ = run(world, llm=lambda q, r, low: f"{q} {r or ''} {low or ''}",
                      rewrites=recorded)
    path = tmp_path / "rewrites.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recorded))
    again, _, _ = run(world, llm=read_rewrites(path))
    assert json.dumps(again.to_pylist()) == json.dumps(table.to_pylist())  # NaN-safe
    path.write_text("".join(json.dumps(r) + "\n" for r in recorded[1:]))
    with pytest.raises(DisentangleError, match="no rewrite of"):
        run(world, llm=read_rewrites(path))
    path.write_text('{"query": "x"}\n')
    with pytest.raises(DisentangleError, match=r"rewrites\.jsonl:1"):
        read_rewrites(path)


def test_ground_truths(world):
    truth = GroundTruth(world["searcher"])
    rows = np.arange(20)
    presence = truth.presence(5, rows)  # labelled "exoplanet atmospheres": no doc says so
    assert presence["words"] == 0.0 and 0.0 <= presence["codes"] <= 1.0
    assert truth.words(5) is not None and not truth.words(5).any()


def test_query_sets(tmp_path):
    held_out = ("astro-heldout", "ml-heldout", "astro-heldout3", "ml-heldout3")
    for name in ("astro", "ml", *held_out):
        query_set = load_query_set(name)
        assert len(query_set.queries) >= 23 and query_set.field
    seen: set[str] = set()
    for name in ("astro", "ml", *held_out):  # every set is new questions
        queries = {q for q, _ in load_query_set(name).queries}
        assert not seen & queries, name
        seen |= queries
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"queries": [{"query": "x"}]}))
    with pytest.raises(DisentangleError, match="field"):
        load_query_set(str(bad))
