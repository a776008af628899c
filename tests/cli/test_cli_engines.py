"""`embed --device` and `embed|encode --engine`: a bad choice is one line naming the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from disentangle.cli.main import main


@pytest.fixture
def ingested(tmp_path: Path) -> Path:
    papers = tmp_path / "papers.jsonl"
    papers.write_text("".join(json.dumps({"id": f"p{i}", "title": f"Title {i}",
                                          "abstract": f"Abstract number {i}."}) + "\n"
                              for i in range(3)))
    assert main(["ingest", str(papers), "-w", str(tmp_path / "ws")]) == 0
    return tmp_path / "ws"


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_device_cuda_without_a_gpu(ingested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "-w", str(ingested), "--device", "cuda"]) == 2
    line = error_line(capsys)
    assert "torch sees no CUDA GPU" in line and "use --device cpu" in line
    assert not (ingested / "embeddings.npy").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["embed", "--device", "tpu"], "unknown device 'tpu'; use one of auto, cpu, cuda"),
    (["embed", "--engine", "spark"], "unknown engine 'spark'; use local or ray"),
    (["encode", "--address", "auto"], "--address is for --engine ray"),
    (["embed", "--engine", "ray", "--cpus-per-actor", "0"], "--cpus-per-actor must be at least"),
])
def test_bad_engine_or_device_choices(ingested: Path, capsys: pytest.CaptureFixture[str],
                                      args: list[str], message: str) -> None:
    assert main([*args, "-w", str(ingested)]) == 2
    assert message in error_line(capsys)
