"""Wall time of the whole demo on a quiet machine and beside one busy competing process.

Issue 14's user waits for `disentangle demo` on a machine that is doing other things too. This
script runs the demo CLI as a fresh process into a new workspace, first quiet, then with a
competitor it starts itself (``train_threads.spin``: one core's worth of a Python loop, for
the length of that run only), and prints wall and CPU seconds, the peak RSS and the ratio
loaded / quiet. Rounds alternate quiet and loaded, so drifting background load hits both.

    python benchmarks/demo_wall.py --dir /tmp/demo-wall [--size 10000] [--rounds 1]

The quiet run of the last round leaves its workspace in DIR/quiet (usable as a demo
workspace); DIR/loaded is removed after each loaded run.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import machine
from train_threads import spin


def run_demo(workspace: Path, size: int | None, loaded: bool) -> dict[str, float]:
    """One demo run as a child process; its wall and CPU seconds and peak RSS (GiB)."""
    shutil.rmtree(workspace, ignore_errors=True)
    command = [str(Path(sys.executable).with_name("disentangle")), "demo", "-w", str(workspace)]
    if size is not None:
        command += ["--size", str(size)]
    competitor = None
    if loaded:
        competitor = mp.get_context("spawn").Process(target=spin, args=(os.getpid(),),
                                                      daemon=True)
        competitor.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    finally:
        wall = time.perf_counter() - started
        if competitor is not None:
            competitor.terminate()
            competitor.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "rss_gib": after.ru_maxrss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="where the workspaces go")
    parser.add_argument("--size", type=int, default=None, help="demo --size (default: full)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(machine())
    runs: dict[str, list[dict[str, float]]] = {"quiet": [], "loaded": []}
    for _ in range(args.rounds):
        for load in ("quiet", "loaded"):
            run = run_demo(args.dir / load, args.size, load == "loaded")
            runs[load].append(run)
            print(f"{load}: wall {run['wall']:.0f} s, CPU {run['cpu']:.0f} s "
                  f"(children's peak RSS so far {run['rss_gib']:.2f} GiB)", flush=True)
        shutil.rmtree(args.dir / "loaded", ignore_errors=True)
    quiet = statistics.median(r["wall"] for r in runs["quiet"])
    loaded = statistics.median(r["wall"] for r in runs["loaded"])
    ratio = statistics.median(
        b["wall"] / a["wall"] for a, b in zip(runs["quiet"], runs["loaded"], strict=True))
    print(f"median wall: quiet {quiet:.0f} s ({quiet / 60:.1f} min), with one busy process "
          f"{loaded:.0f} s ({loaded / 60:.1f} min); loaded / quiet {ratio:.2f}x")


if __name__ == "__main__":
    main()
