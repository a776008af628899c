"""One writer per workspace at a time; readers never wait.

Two stages writing the same workspace at once (two ``train --name x`` runs, an ``encode``
while ``train`` rewrites the weights) interleave their files into an inconsistent SAE folder.
Every stage that writes holds an exclusive ``flock`` on ``<workspace>/.writer.lock`` for its
whole run. The kernel drops the lock when the holder exits, however it exits (``kill -9``
included), so a crashed run never leaves a stale lock behind; the pid written into the file
is only there to name the holder in the refusal message. Readers (search, serve, ``features
show``) do not take the lock: every file is replaced atomically, so they see old or new
content, never a torn mix.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from disentangle.errors import DisentangleError

LOCK_NAME = ".writer.lock"

class WorkspaceBusy(DisentangleError):
    """Another process holds the writer lock (a reader may carry on without writing)."""


_held: dict[Path, int] = {}  # workspaces this process holds → nesting depth
_held_guard = threading.Lock()


@contextmanager
def writer_lock(root: str | os.PathLike[str], command: str,
                create: bool = False) -> Iterator[None]:
    """Hold the workspace's writer lock, or raise a one-line error naming its holder.

    Re-entrant within a process (the demo runs stages that each take it). ``create`` makes a
    missing workspace folder so ``ingest`` can lock the folder it is about to fill; without
    it there is nothing to protect and the stage itself reports the missing workspace.
    """
    root = Path(root).resolve()
    with _held_guard:
        if root in _held:
            _held[root] += 1
            nested = True
        else:
            nested = False
    if nested or (not create and not root.is_dir()):
        try:
            yield
        finally:
            if nested:
                with _held_guard:
                    _held[root] -= 1
        return
    if root.exists() and not root.is_dir():
        raise DisentangleError(f"{root} is a file, not a directory; pass another --workspace "
                               "path")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkspaceBusy(
                f"workspace {root} is in use by {_holder(fd)}; wait for it to finish (or stop "
                "it), then run this command again") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {command}\n".encode())
        with _held_guard:
            _held[root] = 1
        try:
            yield
        except BaseException:
            if created and [p.name for p in root.iterdir()] == [LOCK_NAME]:
                (root / LOCK_NAME).unlink()  # a failed first command leaves no empty workspace
                root.rmdir()
            raise
        finally:
            with _held_guard:
                del _held[root]
    finally:
        os.close(fd)  # releases the flock


def _holder(fd: int) -> str:
    """"pid N (`disentangle train`)" from the lock file, as far as it has been written."""
    try:
        pid, _, command = os.pread(fd, 512, 0).decode("utf-8", "replace").strip().partition(" ")
    except OSError:
        return "another process"
    if not pid.isascii() or not pid.isdigit():
        return "another process"
    return f"pid {pid} (`disentangle {command}`)" if command else f"pid {pid}"
