"""Serving safely: loopback host names only, a clear --host error, a thread-safe query cache."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from disentangle.app.server import build_app, check_bind_host
from disentangle.app.service import AppService, CachedEmbedder
from disentangle.errors import DisentangleError


@pytest.fixture(scope="module")
def loopback_client(workspaces: dict) -> TestClient:
    return TestClient(build_app(AppService.open(workspaces["bare"]), loopback_only=True))


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "localhost",
                                  "127.0.0.2"])
def test_loopback_names_are_served(loopback_client, host):
    assert loopback_client.get("/api/info", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example:8000", "evil.example", "10.0.0.1", "",
                                  "localhost.evil.example", "[::2]:80"])
def test_other_host_names_are_refused_against_dns_rebinding(loopback_client, host):
    response = loopback_client.get("/api/info", headers={"host": host})
    assert response.status_code == 400 and "localhost names only" in response.text


def test_bind_host_is_checked_before_loading():
    assert check_bind_host("127.0.0.1") and check_bind_host("localhost") and check_bind_host("::1")
    assert not check_bind_host("0.0.0.0")
    with pytest.raises(DisentangleError, match="neither an IP address nor a known host name"):
        check_bind_host("not-an-ip")


class CountingEmbedder:
    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        time.sleep(0.001)  # like a real model: other threads run meanwhile
        return np.array([[len(t), 1.0] for t in texts], np.float32)


def test_query_cache_is_thread_safe_and_bounded():
    inner = CountingEmbedder()
    cache = CachedEmbedder(inner, size=8)
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
