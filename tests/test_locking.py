"""One writer per workspace: a second is refused naming the first; a killed one leaves no lock."""

import os
import signal
import subprocess
import sys
import time

import pytest

from disentangle.errors import DisentangleError
from disentangle.locking import LOCK_NAME, writer_lock

HOLD = """
import sys, time
from disentangle.locking import writer_lock
with writer_lock(sys.argv[1], "train"):
    print("locked", flush=True)
    time.sleep(60)
"""


def hold_lock(root):
    """A separate process holding the writer lock of ``root`` (until killed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE,
                              text=True, env=env)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_second_writer_is_refused_naming_the_first(tmp_path):
    holder = hold_lock(tmp_path)
    try:
        refused = rf"in use by pid {holder.pid} \(`disentangle train`\); wait for it"
        with pytest.raises(DisentangleError, match=refused), writer_lock(tmp_path, "encode"):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_writer_is_free_at_once(tmp_path):
    holder = hold_lock(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / LOCK_NAME).exists()  # the file stays; the kernel dropped the lock
    started = time.monotonic()
    with writer_lock(tmp_path, "train"):
        assert time.monotonic() - started < 1


def test_lock_is_reentrant_and_leaves_missing_workspaces_alone(tmp_path):
    with writer_lock(tmp_path, "demo"), writer_lock(tmp_path, "ingest"):
        pass
    with writer_lock(tmp_path, "train"):
        pass
    with writer_lock(tmp_path / "absent", "train"):
        pass
    assert not (tmp_path / "absent").exists()
    with writer_lock(tmp_path / "new", "ingest", create=True):
        assert (tmp_path / "new").is_dir()


WRITERS = [["ingest", "corpus.jsonl"], ["embed"], ["train"], ["encode"], ["interpret"],
           ["families", "build"], ["sweep"], ["compare", "a", "b"], ["trends"],
           ["eval", "steering"], ["demo"]]
READERS = [["search", "dark matter"], ["features", "list"], ["features", "show", "1"],
           ["families", "list"]]


def test_every_writing_command_takes_the_lock_and_no_reader_does(tmp_path, capsys):
    from disentangle.cli.main import main

    holder = hold_lock(tmp_path)
    try:
        for command in WRITERS:
            assert main([*command, "-w", str(tmp_path)]) == 2, command
            assert f"in use by pid {holder.pid}" in capsys.readouterr().err, command
        for command in READERS:
            assert main([*command, "-w", str(tmp_path)]) == 2, command  # no workspace here
            assert "in use" not in capsys.readouterr().err, command
    finally:
        holder.kill()
        holder.wait()
