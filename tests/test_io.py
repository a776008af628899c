"""Atomic writes: a failure mid-write leaves the previous file intact and no temp files."""

import numpy as np
import pytest

from disentangle.io import atomic_path, load_npy, read_json, save_npy, write_json


def test_failed_write_keeps_old_content(tmp_path):
    target = tmp_path / "data.json"
    write_json(target, {"version": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"version": 2')  # torn write
        raise RuntimeError("crash mid-write")
    assert read_json(target) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_npy_round_trip_is_memory_mapped(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_npy(tmp_path / "a.npy", array)
    loaded = load_npy(tmp_path / "a.npy")
    assert isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, array)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    import os

    from disentangle import io

    io._umask.cache_clear()
    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"a": 1})
        save_npy(tmp_path / "a.npy", np.zeros(3))
    finally:
        os.umask(old)
        io._umask.cache_clear()
    for name in ("a.json", "a.npy"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_damaged_files_name_the_file_and_the_rebuilding_command(tmp_path):
    from disentangle.errors import DisentangleError
    from disentangle.io import artifact, read_parquet

    artifact("thing.json", "delete it and run `disentangle make-thing` again")
    (tmp_path / "thing.json").write_text('{"cut')
    with pytest.raises(DisentangleError, match=r"thing\.json is damaged .*make-thing"):
        read_json(tmp_path / "thing.json")
    save_npy(tmp_path / "a.npy", np.zeros((100, 4)))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(DisentangleError, match=r"a\.npy is damaged"):
        load_npy(tmp_path / "a.npy")
    (tmp_path / "t.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(DisentangleError, match=r"t\.parquet is damaged"):
        read_parquet(tmp_path / "t.parquet")
    with pytest.raises(DisentangleError, match=r"absent\.json is missing"):
        read_json(tmp_path / "absent.json")
