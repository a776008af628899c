"""A local fake OpenAI-compatible chat server (no network, no key), for the LLM paths."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import pytest
from fake_chat import Answer, serve


@pytest.fixture
def chat_server() -> Iterator[Callable[[Answer], str]]:
    """Start a server answering POST /v1/chat/completions with ``answer``; returns its base
    URL. Every server started is shut down after the test."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> str:
        httpd, url = serve(answer)
        servers.append(httpd)
        return url

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
