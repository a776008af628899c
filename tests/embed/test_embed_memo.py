"""The query memo answers repeated texts from memory and is safe under concurrent requests."""

from __future__ import annotations

import threading
import time

import numpy as np

from disentangle.embed.memo import MemoizedEmbedder


class CountingEmbedder:
    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        time.sleep(0.001)  # like a real model: other threads run meanwhile
        return np.array([[len(t), 1.0] for t in texts], np.float32)


def test_query_cache_is_thread_safe_and_bounded():
    inner = CountingEmbedder()
    cache = MemoizedEmbedder(inner, size=8)
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(400):
                texts = [f"q{int(i)}" + "x" * int(i) for i in rng.integers(0, 20, size=2)]
                got = cache.embed(texts)
                assert got[:, 0].tolist() == [float(len(t)) for t in texts]
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(cache._cache) <= 8
    calls = inner.calls
    cache.embed(["q1x"])
    cache.embed(["q1x"])
    assert inner.calls <= calls + 1
