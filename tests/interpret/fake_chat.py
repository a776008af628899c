"""Replies of the fake OpenAI-compatible chat server (see ``conftest.chat_server``)."""

from __future__ import annotations

from collections.abc import Callable

Answer = Callable[[dict], tuple[int, dict]]
"""Request body in; HTTP status and JSON payload out."""


def chat_reply(content: str) -> tuple[int, dict]:
    """A well-formed chat completion carrying ``content``."""
    return 200, {"choices": [{"message": {"role": "assistant", "content": content}}],
                 "usage": {"prompt_tokens": 100, "completion_tokens": 10}}
