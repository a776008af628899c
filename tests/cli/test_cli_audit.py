"""``disentangle eval labels|families``: packets and keys on disk, then scoring answers."""

from __future__ import annotations

import json

import pytest

from disentangle.cli.main import main
from disentangle.io import read_json
from tests.cli.test_cli_families import make_workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = make_workspace(tmp_path_factory.mktemp("audit") / "ws", codes_for=["n48"])
    assert main(["families", "build", "-w", str(ws.root), "--sae", "n48", "--no-score"]) == 0
    return ws


def test_label_packet_key_and_score(workspace, tmp_path, capsys):
    out = tmp_path / "audit"
    assert main(["eval", "labels", "-w", str(workspace.root), "--sae", "n48", "--sample",
                 "clean:4,all:2", "--seed", "7", "--out", str(out)]) == 0
    packet = (out / "labels-packet.md").read_text()
    key = read_json(out / "labels-key.json")
    assert [e["group"] for e in key["items"]].count("clean") == 4 and len(key["items"]) == 6
    assert "## Answer template" in packet and "n48" not in packet
    perfect = [{"item": e["item"], "picked": e["active"], "verdict": "accept"}
               for e in key["items"]]
    answers = out / "answers.jsonl"
    answers.write_text("".join(json.dumps(a) + "\n" for a in perfect))
    capsys.readouterr()
    assert main(["eval", "labels", "--score", str(answers)]) == 0
    printed = capsys.readouterr().out
    assert "clean" in printed and "1.00" in printed and "100%" in printed
    assert main(["eval", "labels", "--score", str(answers), "--key",
                 str(tmp_path / "missing.json")]) == 2
    assert main(["eval", "labels", "-w", str(workspace.root), "--sae", "n48", "--sample",
                 "clean=4"]) == 2
    assert main(["eval", "labels", "-w", str(workspace.root), "--sae", "n48", "--judge",
                 "oracle"]) == 2


def test_family_packet_key_and_score(workspace, tmp_path, capsys):
    out = tmp_path / "audit"
    assert main(["eval", "families", "-w", str(workspace.root), "--sae", "n48", "--count",
                 "3", "--out", str(out)]) == 0
    key = read_json(out / "families-key.json")
    assert len(key["items"]) == 3
    assert "ROOT: topic" in (out / "families-packet.md").read_text()
    answers = out / "answers.jsonl"
    answers.write_text("".join(json.dumps({"item": e["item"], "outside": [1],
                                           "verdict": "coherent"}) + "\n"
                               for e in key["items"]))
    capsys.readouterr()
    assert main(["eval", "families", "--score", str(answers)]) == 0
    assert "100%" in capsys.readouterr().out
    assert main(["eval", "labels", "--score", str(answers), "--key",
                 str(out / "families-key.json")]) == 2  # a families key is not a labels key
