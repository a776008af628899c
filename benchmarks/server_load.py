"""Load test of `disentangle serve` on loopback: throughput and latency as clients are added.

Starts the real server (a fresh process, 127.0.0.1, a free port) on a workspace and runs
closed-loop virtual clients, 1, 4, 16 and 50 of them, each sending its requests one after the
other; the mix is the one of issue 13: search 35 %, steered search 35 % (two feature edits),
feature page 20 %, label lookup 10 %. Searches draw from a fixed set of query texts (as when
users move sliders on the same query), except ``--fresh`` of them which are new texts and so
pay for embedding the query. Prints requests/s, p50/p95/p99 latency and errors per level.

``--baseline-src DIR`` also serves the workspace with the sources in DIR (e.g. an older
checkout's ``src``) and runs every level against both servers, alternating, so the two are
compared under the same machine load. Usage::

    python benchmarks/server_load.py --workspace ws-demo [--clients 1,4,16,50]
        [--baseline-src /tmp/old/src]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

QUERIES = [
    "dark matter halos of dwarf galaxies", "exoplanet atmospheres with transmission spectra",
    "gradient descent for deep neural networks", "gravitational waves from binary mergers",
    "cosmic microwave background polarization", "star formation in molecular clouds",
    "reinforcement learning from human feedback", "type Ia supernovae as standard candles",
    "graph neural networks for molecules", "weak lensing of galaxy clusters",
    "variational inference for topic models", "active galactic nuclei feedback",
    "kernel methods and gaussian processes", "stellar populations in the milky way halo",
    "convolutional networks for image classification", "fast radio bursts",
]
LOOKUPS = ["galax", "neural", "lensing", "planet", "kernel", "star", "learning", "cosmolog"]
MIX = (("search", 0.35), ("steer", 0.35), ("feature", 0.20), ("lookup", 0.10))
REQUEST_TIMEOUT_S = 60.0
START_TIMEOUT_S = 600.0


@dataclass
class Level:
    clients: int
    requests: int
    seconds: float
    latencies_ms: np.ndarray
    errors: int

    def line(self, name: str) -> str:
        p50, p95, p99 = np.percentile(self.latencies_ms, [50, 95, 99])
        return (f"{name:9s} {self.clients:3d} clients  {self.requests:5d} req  "
                f"{self.requests / self.seconds:6.1f} req/s  p50 {p50:7.0f} ms  "
                f"p95 {p95:7.0f} ms  p99 {p99:7.0f} ms  errors {self.errors}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workspace: str, sae: str | None, src: str | None) -> tuple[subprocess.Popen,
                                                                          str]:
    """``disentangle serve`` in a fresh process; returns it and its base URL once it answers."""
    port = free_port()
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    command = [sys.executable, "-c", "from disentangle.cli.main import run; run()", "serve",
               "-w", workspace, "--host", "127.0.0.1", "--port", str(port)]
    if sae:
        command += ["--sae", sae]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {server.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/api/info", timeout=5).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    server.kill()
    raise SystemExit("server did not start in time")


def plan(rng: np.random.Generator, count: int, n_features: int, fresh: float,
         counter: list[int]) -> list[tuple[str, dict]]:
    """``count`` (path, params) requests of the mix, drawn with ``rng``."""
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    out = []
    for kind in rng.choice(kinds, size=count, p=weights):
        query = str(rng.choice(QUERIES))
        if kind in ("search", "steer") and rng.random() < fresh:
            counter[0] += 1
            query = f"{query} {counter[0]}"  # never seen: the server embeds it
        if kind == "search":
            out.append(("/api/search", {"q": query}))
        elif kind == "steer":
            a, b = (int(f) for f in rng.choice(n_features, size=2, replace=False))
            out.append(("/api/search", {"q": query, "e": [f"{a}:up1", f"{b}:off"]}))
        elif kind == "feature":
            out.append((f"/api/features/{int(rng.integers(n_features))}", {}))
        else:
            out.append(("/api/features/lookup", {"q": str(rng.choice(LOOKUPS))}))
    return out


async def run_level(url: str, clients: int, per_client: int, n_features: int, fresh: float,
                    seed: int) -> Level:
    counter = [seed * 1_000_000]
    plans = [plan(np.random.default_rng([seed, c]), per_client, n_features, fresh, counter)
             for c in range(clients)]
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:

        async def client(requests: list[tuple[str, dict]]) -> None:
            nonlocal errors
            for path, params in requests:
                started = time.perf_counter()
                try:
                    response = await http.get(path, params=params)
                    if response.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(1000 * (time.perf_counter() - started))

        started = time.perf_counter()
        await asyncio.gather(*(client(p) for p in plans))
        seconds = time.perf_counter() - started
    return Level(clients, clients * per_client, seconds, np.array(latencies), errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="ws-demo")
    parser.add_argument("--sae", default=None)
    parser.add_argument("--clients", default="1,4,16,50")
    parser.add_argument("--requests", type=int, default=20, help="per client (at least)")
    parser.add_argument("--min-level-requests", type=int, default=200,
                        help="fewer clients send more requests each, up to this many in all")
    parser.add_argument("--fresh", type=float, default=0.1,
                        help="fraction of searches with a never-seen query text")
    parser.add_argument("--baseline-src", default=None)
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    servers = {"current": start_server(args.workspace, args.sae, None)}
    if args.baseline_src:
        servers["baseline"] = start_server(args.workspace, args.sae,
                                           str(Path(args.baseline_src).resolve()))
    try:
        n_features = httpx.get(f"{servers['current'][1]}/api/info").json()["n_features"]
        print(f"{os.cpu_count()} cores; workspace {args.workspace}; {n_features} features; "
              f"{len(QUERIES)} query texts, {args.fresh:.0%} of searches fresh")
        for seed, clients in enumerate(levels):
            per_client = max(args.requests, -(-args.min_level_requests // clients))
            for name, (_, url) in servers.items():
                asyncio.run(run_level(url, clients, 2, n_features, 0.0, 99))  # warm connections
                level = asyncio.run(run_level(url, clients, per_client, n_features, args.fresh,
                                              seed))
                print(level.line(name), flush=True)
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
