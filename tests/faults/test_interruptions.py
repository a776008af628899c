"""kill -9 at a random moment of each long stage, then the same command again: the result is
byte-identical to an uninterrupted run. Plus two writers at once and Ctrl+C during training."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from disentangle.cli.main import main
from disentangle.locking import LOCK_NAME
from disentangle.sae.checkpoint import load_sae

from .conftest import TRAIN, cli, copy, one_line_error, start

RNG = np.random.default_rng(13)


def run_killed(args: list[str], workspace: Path, seconds: float) -> bool:
    """Run the CLI and SIGKILL it ``seconds`` after its stage began (it holds the workspace's
    writer lock from then on: the kill lands in the work, not in the imports); whether it was
    still running then."""
    process = start(*args, "-w", str(workspace))
    lock = workspace / LOCK_NAME
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if lock.exists() and lock.read_text().startswith(f"{process.pid} "):
            break
        time.sleep(0.02)
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:  # still running, as intended
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def run(args: list[str], workspace: Path, in_process: bool) -> float:
    """The CLI to the end, here or in a separate process; its wall time in seconds."""
    started = time.monotonic()
    if in_process:
        assert main([*args, "-w", str(workspace)]) == 0
    else:
        done = cli(*args, "-w", str(workspace))
        assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def same_files(a: Path, b: Path, names: list[str]) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def interrupted_equals_uninterrupted(source: Path, tmp_path: Path, args: list[str],
                                     outputs: list[str], in_process: bool = True) -> None:
    """Reference run (timed) in one copy; in another a run killed at a random point of that
    time, then the same command again; the outputs must be byte-identical. ``in_process``
    False runs everything in separate processes with a fixed string-hash seed."""
    reference, resumed = copy(source, tmp_path / "reference"), copy(source, tmp_path / "resumed")
    seconds = run(args, reference, in_process)
    run_killed(args, resumed, float(RNG.uniform(0.1, 0.9)) * seconds)
    run(args, resumed, in_process)
    same_files(reference, resumed, outputs)


def test_embed_resumes_exactly(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    words = ["galaxy", "lensing", "neural", "kernel", "planet", "quasar", "gradient", "dust"]
    rng = np.random.default_rng(0)
    corpus.write_text("".join(json.dumps({
        "id": f"d{i}", "title": " ".join(rng.choice(words, 3)),
        "abstract": " ".join(rng.choice(words, 40)), "categories": ["astro-ph.GA"],
        "year": 2010}) + "\n" for i in range(160)))
    source = tmp_path / "source"
    assert main(["ingest", str(corpus), "-w", str(source)]) == 0
    interrupted_equals_uninterrupted(source, tmp_path, ["embed"], ["embeddings.npy"])


def test_train_resumes_exactly(embedded: Path, tmp_path: Path) -> None:
    interrupted_equals_uninterrupted(
        embedded, tmp_path, ["train", *TRAIN],
        ["saes/tiny/model.safetensors", "saes/tiny/metrics.json", "saes/tiny/config.json"])


def test_encode_resumes_exactly(trained: Path, tmp_path: Path) -> None:
    source = copy(trained, tmp_path / "source")
    main(["train", "-w", str(source), *TRAIN[:-1], "other"])
    interrupted_equals_uninterrupted(
        source, tmp_path, ["encode", "--sae", "other"],
        ["saes/other/codes/indices.npy", "saes/other/codes/values.npy"])


def test_interpret_resumes_exactly(trained: Path, tmp_path: Path) -> None:
    interrupted_equals_uninterrupted(
        trained, tmp_path, ["interpret", "--sae", "tiny"], ["saes/tiny/features.parquet"],
        in_process=False)


def test_second_writer_is_refused_and_nothing_is_corrupted(embedded: Path, tmp_path: Path,
                                                           capsys) -> None:
    """The issue's reproduction: two `train --name cc` with different settings at once."""
    ws = copy(embedded, tmp_path / "ws")
    # Long enough to still hold the lock when the second process has started (8 epochs
    # took 1 s at 377 steps/s once the step ran on the faster thread count).
    first = start("train", "-w", str(ws), "--n", "64", "--k", "6", "--epochs", "80",
                  "--batch-size", "32", "--name", "cc")
    lock = ws / LOCK_NAME
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().startswith(f"{first.pid} ")):
        assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
        time.sleep(0.05)
    second = cli("train", "-w", str(ws), "--n", "32", "--k", "6", "--epochs", "2",
                 "--batch-size", "32", "--name", "cc")
    assert second.returncode == 2
    assert f"in use by pid {first.pid}" in one_line_error(second.stderr)
    # readers keep working while the writer runs
    assert main(["features", "list", "-w", str(ws)]) in (0, 2)  # 2: no SAE finished yet
    assert "in use" not in capsys.readouterr().err
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    sae, meta = load_sae(ws / "saes" / "cc")
    assert meta["sae"]["n"] == sae.config.n == 64
    assert main(["encode", "-w", str(ws), "--sae", "cc"]) == 0


def test_ctrl_c_during_training_says_how_to_resume(embedded: Path, tmp_path: Path) -> None:
    ws = copy(embedded, tmp_path / "ws")
    process = start("train", "-w", str(ws), "--n", "64", "--k", "6", "--epochs", "200",
                    "--batch-size", "32", "--name", "long")
    state = ws / "saes" / "long" / "state.pt"
    deadline = time.monotonic() + 120
    while not state.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "run the same command again to resume" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("command", [["search", "x", "--up", "²"], ["search", "x", "--down",
                                                                     "9" * 5000]])
def test_cli_ids_parse_as_bounded_ascii_digits(trained: Path, command, capsys) -> None:
    assert main([*command, "-w", str(trained)]) == 2
    one_line_error(capsys.readouterr().err)
