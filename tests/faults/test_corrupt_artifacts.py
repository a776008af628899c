"""Every workspace file damaged (cut in half, or overwritten with garbage), then every command
that reads it: one line naming the file and how to rebuild it, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from disentangle.app import create_app
from disentangle.cli.main import main
from disentangle.errors import DisentangleError

from .conftest import TRAIN, copy, one_line_error

SEARCH = ["search", "dark matter halo", "--sae", "tiny"]
READERS = {
    "manifest.json": [SEARCH, ["features", "list", "--sae", "tiny"], ["encode"]],
    "corpus.parquet": [SEARCH, ["features", "show", "0", "--sae", "tiny"]],
    "embeddings.npy": [SEARCH, ["interpret", "--sae", "tiny"], ["train", *TRAIN]],
    "saes/tiny/config.json": [SEARCH, ["encode", "--sae", "tiny"]],
    "saes/tiny/model.safetensors": [SEARCH, ["encode", "--sae", "tiny"]],
    "saes/tiny/state.pt": [["train", *TRAIN]],
    "saes/tiny/metrics.json": [],  # written for people; no command reads it
    "saes/tiny/codes/indices.npy": [SEARCH, ["interpret", "--sae", "tiny"]],
    "saes/tiny/codes/values.npy": [SEARCH],
    "saes/tiny/codes/codes.json": [SEARCH],
    "saes/tiny/features.parquet": [SEARCH, ["features", "list", "--sae", "tiny"],
                                   ["features", "show", "0", "--sae", "tiny"]],
}
SERVED = [name for name, readers in READERS.items() if SEARCH in readers]


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "cut" else b"\x00garbage" * 64)


@pytest.fixture(scope="module", params=["cut", "garbage"])
def damaged(request, interpreted: Path, tmp_path_factory) -> dict[str, Path]:
    """One copy of the workspace per damaged file."""
    copies = {}
    for name in READERS:
        ws = copy(interpreted, tmp_path_factory.mktemp("damaged") / "ws")
        damage(ws / name, request.param)
        copies[name] = ws
    return copies


@pytest.mark.parametrize("name", list(READERS))
def test_every_reader_names_the_damaged_file(damaged, name, capsys):
    ws = damaged[name]
    for command in READERS[name]:
        capsys.readouterr()
        assert main([*command, "-w", str(ws)]) == 2, command
        line = one_line_error(capsys.readouterr().err)
        assert Path(name).name in line and "damaged" in line, (command, line)
        assert "delete" in line and "disentangle " in line, line  # says how to rebuild it


@pytest.mark.parametrize("name", SERVED)
def test_the_web_app_refuses_a_damaged_workspace_with_one_line(damaged, name):
    with pytest.raises(DisentangleError, match=rf"{Path(name).name} is damaged"):
        create_app(damaged[name], "tiny")


def test_following_the_advice_repairs_the_workspace(interpreted, tmp_path, capsys):
    ws = copy(interpreted, tmp_path / "ws")
    damage(ws / "saes/tiny/codes/indices.npy", "cut")
    assert main([*SEARCH, "-w", str(ws)]) == 2
    advice = one_line_error(capsys.readouterr().err)
    assert "delete" in advice and "disentangle encode --sae tiny" in advice
    import shutil

    shutil.rmtree(ws / "saes/tiny/codes")
    assert main(["encode", "-w", str(ws), "--sae", "tiny"]) == 0
    assert main([*SEARCH, "-w", str(ws)]) == 0
