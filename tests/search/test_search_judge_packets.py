"""Blind steering packets leak nothing, and the scorer reads answers against the right key."""

from __future__ import annotations

import json
import re

import pytest

from disentangle.errors import DisentangleError
from disentangle.search import QuerySet
from disentangle.search.evaluation import draw_cases
from disentangle.search.judge_packets import build_packet, score_answers, write_packet

QUERIES = QuerySet("toy", (("topic3 topic9", "astro-ph.GA"), ("topic11 topic20 star", "cs.LG")),
                   ("astro-ph", "cs", "stat", "hep-th"))


@pytest.fixture(scope="module")
def written(world, tmp_path_factory):
    searcher = world["searcher"]
    cases = [("toy", c) for c in draw_cases(searcher, QUERIES, range(48),
                                            density_range=(0.0, 1.0))]
    packet, key = build_packet(searcher, cases, range(48), seed=20261202)
    folder = tmp_path_factory.mktemp("packets")
    return (packet, key, *write_packet(folder, "steering", packet, key, folder / "keys"))


def test_packet_holds_no_ids_methods_or_answers(written):
    packet, key, packet_path, _ = written
    assert len(key["items"]) == 2 * 4
    for word in ("hybrid", "global", "dense", "template", "raised", "lowered", "feature",
                 "strength"):
        assert word not in packet.lower().replace("steered toward", "")
    assert not re.search(r"#\d|topic \d+ label \(\d", packet)
    assert "Focus on" not in packet  # the rewrite's text would give the method away
    assert packet_path.read_text() == packet
    assert not list(packet_path.parent.glob("*key*.json"))  # the key lives in its own folder


def test_perfect_and_wrong_answers_are_scored(written, tmp_path):
    _, key, packet_path, key_path = written
    perfect = tmp_path / "perfect.jsonl"
    perfect.write_text("\n".join(json.dumps({"item": i["item"], "toward": i["toward"],
                                             "away": i["away"], "relevance": 2})
                                 for i in key["items"]))
    scores = score_answers(key_path, perfect, packet_path)
    assert set(scores) == {"hybrid", "global", "dense", "template"}
    assert all(s["toward"] == 1.0 and s["away"] == 1.0 and s["relevance"] == 2.0
               for s in scores.values())
    swapped = tmp_path / "swapped.jsonl"
    swapped.write_text("\n".join(json.dumps({"item": i["item"], "toward": i["away"],
                                             "away": i["toward"], "relevance": 0})
                                 for i in key["items"]))
    assert all(s["toward"] == 0.0 for s in score_answers(key_path, swapped).values())
    other = tmp_path / "other.md"
    other.write_text("another packet")
    with pytest.raises(DisentangleError, match="not the packet"):
        score_answers(key_path, perfect, other)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(DisentangleError, match=r"bad\.jsonl:1"):
        score_answers(key_path, bad)
