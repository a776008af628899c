"""The fake OpenAI-compatible chat server (no network, no key) and its replies; the tests
start it through ``conftest.chat_server``, ``benchmarks/llm_label_rate.py`` directly."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[dict], tuple[int, dict]]
"""Request body in; HTTP status and JSON payload out."""


def chat_reply(content: str) -> tuple[int, dict]:
    """A well-formed chat completion carrying ``content``."""
    return 200, {"choices": [{"message": {"role": "assistant", "content": content}}],
                 "usage": {"prompt_tokens": 100, "completion_tokens": 10}}


def serve(answer: Answer) -> tuple[ThreadingHTTPServer, str]:
    """Start a server on a free local port, in a daemon thread, answering
    POST /v1/chat/completions with ``answer`` (one thread per request); returns it and its
    base URL. Stop it with ``shutdown()`` and ``server_close()``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.path == "/v1/chat/completions"
            status, payload = answer(body)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default 5 refuses connections at concurrency 32

    httpd = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
