"""Two tiny real workspaces built through the CLI: a bare one (no labels, no families, one
SAE) and a rich one (labels, families and a wider SAE), so every page is tested both ways."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from disentangle import stages
from disentangle.app import create_app
from disentangle.cli.main import main
from disentangle.families import Family, families_table
from disentangle.io import write_parquet
from disentangle.workspace import Workspace

TOPICS = {
    "astro-ph.GA": ["galaxy", "stellar halo", "dark matter", "spiral arms", "redshift survey"],
    "cs.LG": ["neural network", "gradient descent", "training data", "classifier", "benchmark"],
    "astro-ph.EP": ["exoplanet", "transit", "planetary atmosphere", "host star", "orbit"],
}


def write_corpus(path: Path, per_topic: int = 20) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        for topic, words in TOPICS.items():
            for i in range(per_topic):
                a, b, c = rng.choice(words, size=3, replace=False)
                f.write(json.dumps({
                    "id": f"{topic}-{i}", "title": f"On {a} and {b}",
                    "abstract": f"We study {a}, {b} and {c} with new data. " * 3,
                    "categories": [topic], "date": f"{2010 + i % 5}-01-01"}) + "\n")


def snapshot(root: Path) -> dict[str, str]:
    """Content hash of every file: the app must leave the workspace byte-identical."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def enrich(ws: Path) -> dict:
    """Labels for every feature, two nested families and a wider SAE."""
    assert main(["train", "-w", str(ws), "--n", "64", "--k", "4", "--epochs", "2",
                 "--batch-size", "16", "--name", "wide"]) == 0
    workspace = Workspace.open(ws)
    codes = stages.codes(workspace, "tiny")
    counts = np.bincount(codes.indices[codes.values > 0].ravel(), minlength=32)
    order = [int(f) for f in np.argsort(-counts, kind="stable")]
    labels = {f: f"theme {f}" for f in range(32)}
    labels[order[0]] = "exoplanet transits"
    write_parquet(workspace.sae_folder("tiny").features_path, pa.table({
        "feature": pa.array(range(32), pa.int32()),
        "label": [labels[f] for f in range(32)],
        "pearson": pa.array(np.linspace(0.1, 0.9, 32)),
        "f1": pa.array([float("nan"), *np.linspace(0.2, 0.8, 31)]),
        "top_rows": pa.array([[0, 1]] * 32, pa.list_(pa.int32())),
    }))
    outer = Family(id=0, parent=order[0], children=order[1:7], direct_children=order[1:4],
                   depth=0, iteration=0, density=0.5, label="planets and stars")
    inner = Family(id=1, parent=order[1], children=order[4:7], direct_children=order[4:7],
                   depth=1, iteration=0, density=0.3, label=None)
    write_parquet(workspace.sae_folder("tiny").families_path, families_table([outer, inner]))
    return {"order": order, "labels": labels}


@pytest.fixture(scope="session")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("app")
    corpus = root / "corpus.jsonl"
    write_corpus(corpus)
    bare = root / "bare"
    assert main(["ingest", str(corpus), "-w", str(bare)]) == 0
    assert main(["embed", "-w", str(bare)]) == 0
    assert main(["train", "-w", str(bare), "--n", "32", "--k", "4", "--epochs", "3",
                 "--batch-size", "16", "--lr", "3e-3", "--name", "tiny"]) == 0
    assert main(["encode", "-w", str(bare), "--sae", "tiny"]) == 0
    rich = root / "rich"
    shutil.copytree(bare, rich)
    return {"bare": bare, "rich": rich, **enrich(rich)}


@pytest.fixture(scope="session")
def bare_client(workspaces: dict) -> TestClient:
    return TestClient(create_app(workspaces["bare"]))


@pytest.fixture(scope="session")
def rich_client(workspaces: dict) -> TestClient:
    return TestClient(create_app(workspaces["rich"], "tiny"))
