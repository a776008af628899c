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
