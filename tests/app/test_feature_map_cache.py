"""``disentangle map`` computes the map once per SAE; the app reads that cache."""

from __future__ import annotations

import shutil

from disentangle.cli.main import main
from disentangle.io import read_json
from disentangle.stages import feature_map
from disentangle.stages.feature_map import cached_map
from disentangle.workspace import Workspace


def test_map_is_cached_and_recomputed_when_its_sources_change(workspaces, tmp_path,
                                                              monkeypatch):
    root = tmp_path / "ws"
    shutil.copytree(workspaces["rich"], root)
    ws = Workspace.open(root)
    path = ws.sae("tiny").feature_map_path
    assert cached_map(ws, "tiny") is None
    assert main(["map", "-w", str(root), "--sae", "tiny"]) == 0
    first = read_json(path)
    assert first["method"] == "umap" and cached_map(ws, "tiny") == first

    calls = []
    real = feature_map.compute_feature_map
    monkeypatch.setattr(feature_map, "compute_feature_map",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    assert main(["map", "-w", str(root), "--sae", "tiny"]) == 0
    assert calls == []  # fresh cache: nothing recomputed

    ws.sae("tiny").families_path.unlink()  # a source changed
    assert cached_map(ws, "tiny") is None
    assert main(["map", "-w", str(root), "--sae", "tiny"]) == 0
    assert calls == [1] and set(read_json(path)["family"]) == {None}
