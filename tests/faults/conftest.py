"""A small real workspace (600 arXiv abstracts, precomputed MiniLM vectors, a 48-feature SAE)
and helpers that run the real `disentangle` entry point in a separate process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import ARXIV, VECTORS, ids_with_vectors

from disentangle.cli.main import main

SRC = Path(__file__).resolve().parents[2] / "src"
DOCUMENTS = 600
TRAIN = ["--n", "48", "--k", "6", "--epochs", "8", "--batch-size", "64", "--lr", "3e-3",
         "--name", "tiny"]
# No PYTHONHASHSEED: every run draws its own string-hash seed, so an interrupted-and-resumed
# interpret equals an uninterrupted one only if labelling ignores set and dict order.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
       "COLUMNS": "200"}
ENV.pop("PYTHONHASHSEED", None)
# Ctrl+C as a terminal delivers it: a shell running these tests in the background (`cmd &`)
# makes its children ignore SIGINT, and Python then installs no KeyboardInterrupt handler.
ENTRY = [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, "
         "signal.default_int_handler); from disentangle.cli.main import run; run()"]


def start(*args: str) -> subprocess.Popen:
    """The real CLI in its own process (its output captured)."""
    return subprocess.Popen([*ENTRY, *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*ENTRY, *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)


def copy(workspace: Path, to: Path) -> Path:
    shutil.copytree(workspace, to)
    return to


def one_line_error(stderr: str) -> str:
    """The single stderr line of a refused command (asserting there is exactly one)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Corpus and embeddings, nothing else."""
    root = tmp_path_factory.mktemp("faults")
    (root / "ids.txt").write_text("\n".join(ids_with_vectors(DOCUMENTS)) + "\n")
    ws = root / "ws"
    assert main(["ingest", str(ARXIV), "--ids", str(root / "ids.txt"), "--limit",
                 str(DOCUMENTS), "-w", str(ws)]) == 0
    assert main(["embed", "-w", str(ws), "--embedder", "precomputed", "--vectors",
                 str(VECTORS / "embeddings.npy"), "--vector-ids", str(VECTORS / "ids.txt")]) == 0
    return ws


@pytest.fixture(scope="session")
def trained(embedded: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Plus a trained and encoded SAE ``tiny``."""
    ws = copy(embedded, tmp_path_factory.mktemp("trained") / "ws")
    assert main(["train", "-w", str(ws), *TRAIN]) == 0
    assert main(["encode", "-w", str(ws), "--sae", "tiny"]) == 0
    return ws


@pytest.fixture(scope="session")
def interpreted(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Plus offline labels and scores of every feature."""
    ws = copy(trained, tmp_path_factory.mktemp("interpreted") / "ws")
    assert main(["interpret", "-w", str(ws), "--sae", "tiny"]) == 0
    return ws
