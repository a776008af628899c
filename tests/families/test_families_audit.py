"""The blind family audit: packets of root and member labels, and their scoring."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest

from disentangle.errors import DisentangleError
from disentangle.families import Family, audit, families_table

LABELS = [f"label {chr(97 + i)}" for i in range(20)]


def _families() -> pa.Table:
    return families_table([
        Family(0, parent=0, children=list(range(1, 16)), direct_children=[1, 2], depth=0,
               iteration=0, density=0.1),
        Family(1, parent=16, children=[17, 18, 19], direct_children=[17], depth=0,
               iteration=0, density=0.05)])


def test_packet_lists_root_and_members_and_the_key_keeps_the_ids() -> None:
    items = audit.build_items(_families(), LABELS, 2, seed=0)
    packet = audit.packet_text(items)
    big = next(i for i in items if i.family == 0)
    # the family's first members (best-nested first), shown in random order
    assert set(big.members) == set(range(1, audit.MAX_MEMBERS + 1))
    assert big.members != sorted(big.members)
    assert f"ROOT: {LABELS[0]}" in packet and f"ROOT: {LABELS[16]}" in packet
    for n, member in enumerate(big.members, 1):
        assert f"{n}. {LABELS[member]}" in packet
    shown = packet[packet.index("## Item 1"):]
    assert "family" not in shown.lower() and not re.search(r"#\d", shown)
    key = audit.key_record(items, {})
    assert json.dumps(key) and key["items"][0]["members"] == items[0].members
    with pytest.raises(DisentangleError, match="only 2 families"):
        audit.build_items(_families(), LABELS, 3, seed=0)


def test_scores_verdicts_and_members_belonging() -> None:
    key = {"kind": "families", "items": [{"item": 1, "members": [1, 2, 3, 4]},
                                         {"item": 2, "members": [5, 6]},
                                         {"item": 3, "members": [7, 8]}]}
    answers = {1: {"item": 1, "outside": [2, "9", "²"], "verdict": "mixed"},
               2: {"item": 2, "outside": [], "verdict": "coherent"},
               3: {"item": 3, "verdict": "what"}}
    tally = audit.score(key, answers)["families"]
    assert tally.items == 3 and tally.answered == 2
    assert tally.rate("coherent") == 0.5 and tally.rate("mixed") == 0.5
    assert tally.mean("belonging") == pytest.approx((0.75 + 1.0) / 2)
    assert "50%" in audit.format_score({"families": tally})


def test_a_judge_callable_answers_every_item() -> None:
    items = audit.build_items(_families(), LABELS, 2, seed=1)
    answers = audit.judge_items(items, lambda prompt: 'ok {"item": 0, "outside": [1], '
                                                      '"verdict": "coherent"}')
    assert [a["item"] for a in answers] == [1, 2]  # the item number is ours, not the judge's
    tally = audit.score(audit.key_record(items, {}), {a["item"]: a for a in answers})
    assert tally["families"].rate("coherent") == 1.0
