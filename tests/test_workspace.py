"""Workspace manifest: stage records, clear errors for missing or stale stages."""

import pyarrow as pa
import pytest

from disentangle.errors import DisentangleError
from disentangle.io import read_json, write_json, write_parquet
from disentangle.workspace import Workspace


def test_open_missing_workspace_names_the_fix(tmp_path):
    with pytest.raises(DisentangleError, match="disentangle ingest"):
        Workspace.open(tmp_path / "nowhere")


def test_records_survive_reopen_and_require_names_command(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    with pytest.raises(DisentangleError, match="disentangle embed"):
        ws.require("embeddings", "embed")
    ws.record("corpus", {"corpus_hash": "abc", "documents": 3})
    again = Workspace.open(tmp_path / "ws")
    assert again.stage("corpus")["documents"] == 3
    assert again.corpus_hash() == "abc"
    again.forget("corpus")
    assert Workspace.open(tmp_path / "ws").stage("corpus") is None


def test_schema_version_mismatch_refused(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    manifest = read_json(ws.manifest_path)
    manifest["schema_version"] = 999
    write_json(ws.manifest_path, manifest)
    with pytest.raises(DisentangleError, match="schema version 999"):
        Workspace.open(tmp_path / "ws")


def test_stale_embeddings_refused(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    ws.record("corpus", {"corpus_hash": "new"})
    ws.record("embeddings", {"corpus_hash": "old", "identity": {}})
    with pytest.raises(DisentangleError, match="earlier corpus"):
        ws.embeddings()


def test_resolve_sae(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    with pytest.raises(DisentangleError, match="no trained SAE"):
        ws.resolve_sae(None)
    (ws.sae_dir("a")).mkdir(parents=True)
    (ws.sae_dir("a") / "model.safetensors").write_bytes(b"x")
    assert ws.resolve_sae(None) == "a"
    with pytest.raises(DisentangleError, match="trained: a"):
        ws.resolve_sae("b")
    with pytest.raises(DisentangleError, match="invalid SAE name"):
        ws.sae_dir("../evil")


def test_a_table_from_an_older_version_names_the_missing_columns_and_the_fix(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    folder = ws.sae_folder("a")
    write_parquet(folder.features_path, pa.table({"feature": [0], "clean": [True]}))
    assert folder.features(["feature"]).num_rows == 1
    with pytest.raises(DisentangleError,
                       match=r"lack interpretable .*re-run `disentangle interpret"):
        folder.features(["feature", "interpretable"])
