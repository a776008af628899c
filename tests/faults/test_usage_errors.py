"""Careless use: one line on stderr, exit code 2, no traceback; the first cases through the
real entry point in separate processes, the rest through ``main`` in this one."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from disentangle.cli.main import main

from .conftest import one_line_error, start


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    papers = [json.dumps({"id": f"p{i}", "title": f"T {i}", "abstract": f"A {i * 7919}",
                          "categories": ["astro-ph.GA"], "year": 2010}) for i in range(3000)]
    packed = gzip.compress(("\n".join(papers) + "\n").encode())
    out = {"truncated": tmp_path / "cut.jsonl.gz", "garbage": tmp_path / "garbage.jsonl.gz",
           "ids": tmp_path / "ids.txt", "plain": tmp_path / "plain.jsonl"}
    out["truncated"].write_bytes(packed[: len(packed) // 2])
    out["garbage"].write_bytes(b"\x1f\x8b" + bytes(range(256)) * 8)
    out["ids"].write_bytes(b"p1\np\xff2\n")
    out["plain"].write_text("\n".join(papers[:20]) + "\n")
    return out


def test_entry_point_usage_errors_are_one_line_with_exit_2(tmp_path: Path, files) -> None:
    ws = str(tmp_path / "ws")
    cases = {
        ("ingest",): "Missing argument 'corpus'",
        ("nosuchcmd",): "No such command 'nosuchcmd'",
        ("train", "-w", ws, "--n", "abc"): "Invalid value for '--n'",
        ("serve", "--port", "70000"): "Invalid value for '--port'",
        ("ingest", str(files["truncated"]), "-w", ws): "truncated or corrupt",
    }
    running = {args: start(*args) for args in cases}  # all at once: each pays the import
    for args, process in running.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, (args, stderr)
        assert cases[args] in one_line_error(stderr), (args, stderr)
    assert not (tmp_path / "ws").exists()  # a failed ingest leaves no empty workspace


@pytest.mark.parametrize(("args", "message"), [
    (["serve", "-w", "{ws}", "--host", "not-an-ip"], "neither an IP address nor a known host"),
    (["ingest", "{garbage}", "-w", "{ws}", "--skip-bad"], "no papers left"),
    (["ingest", "{plain}", "-w", "{ws}", "--ids", "{ids}"], "line 2 is not UTF-8"),
    (["ingest", "{plain}", "-w", "{ws}", "--categories", "astro-ph.*"], "without wildcards"),
    (["search", "dark matter", "-w", "{ws}"], "no workspace"),
])
def test_bad_inputs_are_one_line_with_exit_2(tmp_path: Path, files, capsys, args, message):
    names = {**{k: str(v) for k, v in files.items()}, "ws": str(tmp_path / "ws")}
    assert main([a.format(**names) for a in args]) == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "ws").exists()  # checked before anything is loaded or created


def test_truncated_gzip_keeps_its_readable_rows_with_skip_bad(tmp_path: Path, files,
                                                              capsys) -> None:
    assert main(["ingest", str(files["truncated"]), "-w", str(tmp_path / "ws"),
                 "--skip-bad"]) == 0
    assert "malformed skipped 1" in " ".join(capsys.readouterr().err.split())


def test_precomputed_vectors_off_unit_length_name_the_row_and_the_flag(tmp_path: Path, files,
                                                                        capsys) -> None:
    import numpy as np

    vectors = np.random.default_rng(0).normal(size=(20, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[7] *= 2
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "v.txt").write_text("\n".join(f"p{i}" for i in range(20)) + "\n")
    ws = str(tmp_path / "ws")
    assert main(["ingest", str(files["plain"]), "-w", ws]) == 0
    embed = ["embed", "-w", ws, "--embedder", "precomputed", "--vectors",
             str(tmp_path / "v.npy"), "--vector-ids", str(tmp_path / "v.txt")]
    capsys.readouterr()
    assert main(embed) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "row 7 (id 'p7') has length 2" in line and "--not-normalized" in line
    assert main([*embed, "--not-normalized"]) == 0
