"""Median latency of the web app's API on a real workspace, through the full HTTP stack.

Times a new query without edits (the query text is embedded: each timed query is distinct),
the same query with three edits (as after moving sliders: its embedding is cached, the
steering, ranking and explanations are not) and the feature page of random features. Usage::

    python benchmarks/app_latency.py --workspace ws-demo [--sae n3072-k32] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient

from disentangle.app import create_app

QUERIES = [
    "dark matter halos of dwarf galaxies", "exoplanet atmospheres with transmission spectra",
    "gradient descent for deep neural networks", "gravitational waves from binary mergers",
    "large language model agents for planning", "cosmic microwave background polarization",
    "star formation in molecular clouds", "reinforcement learning from human feedback",
    "type Ia supernovae as standard candles", "graph neural networks for molecules",
]


def timed(call: Callable[[], object], repeats: int, warm: bool = True) -> list[float]:
    """Milliseconds per call, after one untimed warm-up call unless ``warm`` is False."""
    if warm:
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - started))
    return times


def get(client: TestClient, path: str, **params: object) -> Callable[[], object]:
    def call() -> object:
        response = client.get(path, params=params)
        response.raise_for_status()
        return response
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="ws-demo")
    parser.add_argument("--sae", default=None)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    client = TestClient(create_app(args.workspace, args.sae))
    print(f"app ready in {time.perf_counter() - started:.1f} s")
    per_query = max(1, args.repeats // len(QUERIES))
    get(client, "/api/search", q="warm-up")()
    plain, edited = [], []
    for query in QUERIES:
        plain += [t for i in range(per_query)
                  for t in timed(get(client, "/api/search", q=f"{query} ({i})"), 1, warm=False)]
        features = [s["feature"] for s in client.get(
            "/api/search", params={"q": query}).json()["sliders"][:2]]
        edits = [f"{features[0]}:off", f"{features[1]}:x1.5", "100:up1"]
        edited += timed(get(client, "/api/search", q=query, e=edits), per_query)
    n_features = client.get("/api/info").json()["n_features"]
    picks = np.random.default_rng(0).choice(n_features, args.repeats, replace=False)
    feature = [t for f in picks for t in timed(get(client, f"/api/features/{f}"), 1, warm=False)]
    for name, times in [("search, no edits", plain), ("search, 3 edits", edited),
                        ("feature page", feature)]:
        print(f"{name:18s} median {statistics.median(times):6.1f} ms   "
              f"p90 {np.percentile(times, 90):6.1f} ms   n={len(times)}")


if __name__ == "__main__":
    main()
