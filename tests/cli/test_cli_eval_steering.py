"""``disentangle eval steering`` end to end: tables, targets and a blind packet that scores."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pytest
from test_cli_end_to_end import built  # noqa: F401 -- the shared tiny workspace fixture

from disentangle.cli.main import main
from disentangle.io import read_json, read_parquet, write_parquet
from disentangle.stages.evaluate import STEERING_STEM
from disentangle.workspace import Workspace


@pytest.fixture(scope="module")
def labelled(built, tmp_path_factory):  # noqa: F811
    _, source = built
    ws = tmp_path_factory.mktemp("eval") / "ws"
    shutil.copytree(source, ws)
    write_parquet(Workspace.open(ws).sae("tiny").features_path, pa.table({
        "feature": pa.array(range(32), pa.int32()),
        "label": [f"theme {f}" for f in range(32)],
        "interpretable": [True] * 32}))
    queries = ws.parent / "queries.json"
    queries.write_text(json.dumps({"field": ["astro-ph", "cs"], "queries": [
        {"query": "exoplanet transit of a host star", "category": "astro-ph.EP"},
        {"query": "neural network classifier training", "category": "cs.LG"}]}))
    return ws, queries


def test_eval_steering_writes_tables_and_a_packet(labelled, capsys, tmp_path):
    ws, queries = labelled
    packets = tmp_path / "audit"
    assert main(["eval", "steering", "-w", str(ws), "--sets", str(queries), "--strengths",
                 "0.5,1", "--density", "0,1", "--packets", str(packets)]) == 0
    out = capsys.readouterr().out
    assert "| set | op | method | strength |" in out and "hybrid" in out
    assert "| target |" in out and "| default_met |" in out and "both_sim_kept_at_default" in out
    folder = Workspace.open(ws).sae("tiny")
    rows_path, summary_path = folder.eval_paths(STEERING_STEM)
    rows = read_parquet(rows_path)
    assert set(rows.column("method").to_pylist()) == {
        "dense", "global", "hybrid", "template", "dense@template", "hybrid@template"}
    summary = read_json(summary_path)
    assert summary["seed"] == 20261202 and summary["cases"] and summary["targets"]
    assert folder.eval_report_path(STEERING_STEM).exists()

    key = read_json(packets / "steering-key.json")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("\n".join(json.dumps({"item": i["item"], "toward": i["toward"],
                                             "away": "Z", "relevance": 1})
                                 for i in key["items"]))
    assert main(["eval", "steering-score", "--key", str(packets / "steering-key.json"),
                 "--answers", str(answers), "--packet", str(packets / "steering-packet.md")]) == 0
    scored = capsys.readouterr().out
    assert "| hybrid |" in scored and "| 1.00 | 0.00 | 1.00 |" in scored


def test_rewrites_from_a_file_join_as_the_llm_baseline(labelled, capsys, tmp_path):
    ws, queries = labelled
    assert main(["eval", "steering", "-w", str(ws), "--sets", str(queries), "--strengths",
                 "1", "--density", "0,1"]) == 0
    folder = Workspace.open(ws).sae("tiny")
    cases = read_json(folder.eval_paths(STEERING_STEM)[1])["cases"]
    lines = [{"query": c["query"], "raised": raised, "lowered": lowered,
              "rewrite": f"{c['query']} about {raised or 'it'}, not {lowered or 'that'}"}
             for c in cases for raised, lowered in (
                 (f"theme {c['raised']}", None), (None, f"theme {c['lowered']}"),
                 (f"theme {c['raised']}", f"theme {c['lowered']}"))]
    rewrites = tmp_path / "rewrites.jsonl"
    rewrites.write_text("".join(json.dumps(line) + "\n" for line in lines))
    packets, keys = tmp_path / "packets", tmp_path / "keys"
    capsys.readouterr()
    assert main(["eval", "steering", "-w", str(ws), "--sets", str(queries), "--strengths",
                 "1", "--density", "0,1", "--rewrites", str(rewrites), "--packets",
                 str(packets), "--packet-keys", str(keys)]) == 0
    methods = set(read_parquet(folder.eval_paths(STEERING_STEM)[0]).column("method")
                  .to_pylist())
    assert {"llm", "dense@llm", "hybrid@llm"} <= methods
    assert folder.eval_rewrites_path(STEERING_STEM).read_text() == rewrites.read_text()
    assert [p.name for p in packets.iterdir()] == ["steering-packet.md"]
    key = read_json(keys / "steering-key.json")
    assert {i["method"] for i in key["items"]} == {"hybrid", "global", "dense", "template",
                                                  "llm"}
    rewrites.write_text("".join(json.dumps(line) + "\n" for line in lines[1:]))
    assert main(["eval", "steering", "-w", str(ws), "--sets", str(queries), "--strengths",
                 "1", "--density", "0,1", "--rewrites", str(rewrites)]) == 2
    assert "has no rewrite of" in capsys.readouterr().err


def test_bad_options_are_one_line(labelled, capsys):
    ws, queries = labelled
    assert main(["eval", "steering", "-w", str(ws), "--sets", str(queries),
                 "--strengths", "x"]) == 2
    assert "--strengths" in capsys.readouterr().err
    assert main(["eval", "steering", "-w", str(ws), "--sets", str(queries)]) == 2
    assert "widen --density" in capsys.readouterr().err


def test_missing_key_is_one_line(capsys, tmp_path):
    assert main(["eval", "steering-score", "--key", str(tmp_path / "k.json"),
                 "--answers", str(tmp_path / "a.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err
