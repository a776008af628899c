"""Atomic file writes and checked reads: no half-written file, no traceback on a bad one.

Every file in a workspace is written to a temporary file in the same directory and then
renamed over its destination (``os.replace`` is atomic on POSIX), so readers see either the
old content or the new, never a torn mix. Files are created with the permissions the user's
umask allows, like any other program's output.

Files can still be damaged from outside (a full disk, a bad copy, an editor). Every reader
here turns an unreadable file into one :class:`DamagedFile` line naming the file and the
command that rebuilds it; ``workspace.py``, which names every artifact, registers that command
with :func:`artifact` beside each name.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from disentangle.errors import DisentangleError

T = TypeVar("T")
_REMEDIES: dict[str, str] = {}


def artifact(filename: str, remedy: str) -> str:
    """Register how to rebuild files called ``filename``: a sentence that may name
    ``{path}``, its ``{folder}`` and ``{sae}`` (the SAE whose folder holds it). Returns
    ``filename``, so the owner writes ``WEIGHTS = artifact("model.safetensors", ...)``."""
    _REMEDIES[filename] = remedy
    return filename


def remedy(path: Path) -> str:
    """How to rebuild ``path``, from its registration (or a generic sentence)."""
    template = _REMEDIES.get(path.name, "delete {path} and re-run the command that wrote it")
    parts = path.parts
    sae = parts[parts.index("saes") + 1] if "saes" in parts[:-1] else "NAME"
    return template.format(path=path, folder=path.parent, sae=sae)


class DamagedFile(DisentangleError):
    """A workspace file that exists but cannot be read back (truncated, garbled, mismatched)."""

    def __init__(self, path: str | os.PathLike[str], problem: object) -> None:
        path = Path(path)
        reason = " ".join(str(problem).split())[:160] or type(problem).__name__
        super().__init__(f"{path} is damaged ({reason}); {remedy(path)}")
        self.path = path


def checked_read(path: str | os.PathLike[str], read: Callable[[Path], T],
                 errors: tuple[type[BaseException], ...] = ()) -> T:
    """``read(path)``, with a missing or unreadable file turned into one clear error.
    ``errors`` are the reader's own exception types for a malformed file."""
    path = Path(path)
    try:
        return read(path)
    except FileNotFoundError:
        raise DisentangleError(f"{path} is missing; {remedy(path)}") from None
    except (OSError, ValueError, EOFError, UnicodeDecodeError, *errors) as error:
        raise DamagedFile(path, error) from None


@contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; on success rename it into place."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp"
    )
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, destination)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return checked_read(path, lambda p: json.loads(p.read_text(encoding="utf-8")))


def save_npy(path: str | os.PathLike[str], array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)


def load_npy(path: str | os.PathLike[str], mmap: bool = True) -> np.ndarray:
    """Load an array, memory-mapped by default so large matrices cost no RAM until touched."""
    return checked_read(path, lambda p: np.load(p, mmap_mode="r" if mmap else None,
                                                allow_pickle=False))


def write_parquet(path: str | os.PathLike[str], table: pa.Table) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet(path: str | os.PathLike[str], columns: list[str] | None = None) -> pa.Table:
    return checked_read(path, lambda p: pq.read_table(p, columns=columns),
                        (pa.ArrowException,))


def parquet_columns(path: str | os.PathLike[str]) -> list[str]:
    """Column names of a Parquet file, read from its footer alone."""
    return checked_read(path, lambda p: pq.read_schema(p).names, (pa.ArrowException,))


@functools.cache
def _umask() -> int:
    """The process umask, read once (reading it means setting it, so not per write)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")
