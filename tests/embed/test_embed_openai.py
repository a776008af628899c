"""The OpenAI-compatible embedder against a scripted local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from disentangle.embed import OpenAICompatibleEmbedder, make_embedder, openai_compat
from disentangle.errors import DisentangleError

Reply = tuple[int, dict[str, str], Any]  # status, headers, JSON body


def vector_for(text: str) -> list[float]:
    return [float(len(text)), 1.0, 2.0]


def embeddings_reply(body: dict[str, Any]) -> Reply:
    """Valid response with the items deliberately in reverse index order."""
    data = [{"index": i, "embedding": vector_for(t)} for i, t in enumerate(body["input"])]
    return 200, {}, {"data": data[::-1], "usage": {"prompt_tokens": 1, "total_tokens": 1}}


class FakeServer:
    """Records requests; each one is answered by the next scripted handler, then by successes."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.script: list[Callable[[dict[str, Any]], Reply]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                assert self.path == "/v1/embeddings"
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((dict(self.headers), body))
                handler = server.script.pop(0) if server.script else embeddings_reply
                status, headers, payload = handler(body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    thread = threading.Thread(target=fake.httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(openai_compat, "_sleep", recorded.append)
    return recorded


def make(server: FakeServer, **kwargs: Any) -> OpenAICompatibleEmbedder:
    params: dict[str, Any] = {"base_url": server.url, "model": "test-embed", "max_retries": 3}
    return OpenAICompatibleEmbedder(**(params | kwargs))


def test_request_batching_and_reordering(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    embedder = make(server, batch_size=2, dimensions=3, normalize=False)
    got = embedder.embed(texts)
    np.testing.assert_array_equal(got, np.array([vector_for(t) for t in texts], np.float32))
    assert got.dtype == np.float32
    assert [body["input"] for _, body in server.requests] == [
        ["a", "bb"],
        ["ccc", "dddd"],
        ["eeeee"],
    ]
    headers, body = server.requests[0]
    assert headers["Authorization"] == "Bearer sk-test"
    assert body == {"model": "test-embed", "input": ["a", "bb"], "dimensions": 3}


def test_normalizes_and_learns_dim(server: FakeServer) -> None:
    embedder = make(server)
    assert embedder.dim is None
    got = embedder.embed(["abc", "de"])
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-6)
    assert embedder.identity.dim == 3 and embedder.identity.normalized
    assert "dimensions" not in server.requests[0][1]
    assert make_embedder(embedder.spec()).identity == embedder.identity


def test_identity_probes_when_dim_unknown(server: FakeServer) -> None:
    assert make(server).identity.dim == 3
    assert len(server.requests) == 1
    assert make(server, dim=3).identity.dim == 3 and len(server.requests) == 1


def test_spec_holds_no_secret(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-secret")
    embedder = make(server, api_key_env="MY_KEY")
    embedder.embed(["x"])
    assert server.requests[0][0]["Authorization"] == "Bearer sk-secret"
    assert "sk-secret" not in json.dumps(embedder.spec())


def test_retries_after_500_and_honours_retry_after(server: FakeServer, sleeps: list[float]) -> None:
    server.script = [
        lambda body: (500, {}, {"error": {"message": "boom"}}),
        lambda body: (429, {"Retry-After": "7"}, {"error": {"message": "slow down"}}),
    ]
    got = make(server, normalize=False, backoff_base=0.01).embed(["abcd"])
    np.testing.assert_array_equal(got, [vector_for("abcd")])
    assert len(server.requests) == 3
    assert 0.005 <= sleeps[0] <= 0.01 and sleeps[1] == 7


def test_backoff_grows_and_gives_up(server: FakeServer, sleeps: list[float]) -> None:
    server.script = [lambda body: (503, {}, {})] * 4
    with pytest.raises(DisentangleError, match="after 4 attempts"):
        make(server, backoff_base=0.01).embed(["x"])
    assert len(server.requests) == 4 and len(sleeps) == 3
    assert sleeps[0] <= 0.01 < sleeps[1] <= 0.02 < sleeps[2] <= 0.04


def test_retries_after_timeout(server: FakeServer, sleeps: list[float]) -> None:
    released = threading.Event()

    def stall(body: dict[str, Any]) -> Reply:
        released.wait(10)  # held until the client has given up; a loaded machine cannot win
        return embeddings_reply(body)

    server.script = [stall]
    try:
        got = make(server, timeout=0.5, backoff_base=0.001).embed(["xyz"])
    finally:
        released.set()
    assert got.shape == (1, 3) and len(server.requests) == 2 and len(sleeps) == 1


def test_connection_error_is_retried_then_reported(sleeps: list[float]) -> None:
    embedder = OpenAICompatibleEmbedder(
        base_url="http://127.0.0.1:9/v1", model="m", max_retries=2, backoff_base=0.001
    )
    with pytest.raises(DisentangleError, match="failed after 3 attempts"):
        embedder.embed(["x"])
    assert len(sleeps) == 2


def test_401_is_a_clear_error_without_retry(server: FakeServer, sleeps: list[float]) -> None:
    server.script = [lambda body: (401, {}, {"error": {"message": "Incorrect API key provided"}})]
    with pytest.raises(DisentangleError, match=r"Incorrect API key provided.*set OPENAI_API_KEY"):
        make(server).embed(["x"])
    assert len(server.requests) == 1 and sleeps == []


def test_missing_key_for_openai_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    embedder = OpenAICompatibleEmbedder()
    assert embedder.identity.dim == 1536  # known model: no request needed
    with pytest.raises(DisentangleError, match="OPENAI_API_KEY is not set"):
        embedder.embed(["x"])
