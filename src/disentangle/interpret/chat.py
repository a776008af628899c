"""A cached, retrying, thread-safe client for any OpenAI-compatible chat endpoint.

Works with OpenAI, vLLM, Ollama and llama.cpp's server: it only POSTs
``{base_url}/chat/completions`` and reads ``choices[0].message.content`` and ``usage``.
Every answer is cached on disk under the sha256 of (model, messages, parameters), so a
re-run, or a resumed run, never pays for the same request twice. 429, 5xx, timeouts and
connection errors are retried with exponential backoff; other HTTP errors (a bad key, an
unknown model) fail at once with a one-line message, since retrying cannot fix them.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import httpx

from disentangle.errors import DisentangleError
from disentangle.io import read_json, write_json

ENV_PREFIX = "DISENTANGLE_LLM_"


@dataclass(frozen=True)
class ChatConfig:
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the key (never the key itself, never saved)."""
    temperature: float = 0.0
    max_tokens: int = 1024
    timeout_s: float = 120.0
    max_retries: int = 5
    backoff_s: float = 1.0
    """First retry waits this long; each further retry doubles it (or the server's Retry-After)."""
    concurrency: int = 8

    @classmethod
    def load(cls, path: str | Path | None = None, env: dict[str, str] | None = None) -> ChatConfig:
        """Defaults, then the ``[llm]`` table of a TOML file, then ``DISENTANGLE_LLM_<FIELD>``
        environment variables (e.g. ``DISENTANGLE_LLM_BASE_URL``, ``DISENTANGLE_LLM_MODEL``)."""
        env = dict(os.environ) if env is None else env
        values: dict[str, Any] = {}
        if path is not None:
            with open(path, "rb") as f:
                values.update(tomllib.load(f).get("llm", {}))
        for spec in fields(cls):
            raw = env.get(ENV_PREFIX + spec.name.upper())
            if raw is not None:
                values[spec.name] = raw
        config = cls()
        for spec in fields(cls):
            if spec.name in values:
                kind = type(getattr(config, spec.name))
                try:
                    config = replace(config, **{spec.name: kind(values[spec.name])})
                except ValueError as error:
                    raise DisentangleError(
                        f"LLM setting {spec.name}={values[spec.name]!r} is not a {kind.__name__}; "
                        "fix the config file or environment variable"
                    ) from error
        return config


class ChatClient:
    """Sends chat requests; counts calls, cache hits and tokens across threads."""

    def __init__(
        self,
        config: ChatConfig,
        cache_dir: str | Path,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.cache_dir = Path(cache_dir)
        key = os.environ.get(config.api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=config.base_url.rstrip("/"), headers=headers,
                                  timeout=config.timeout_s, transport=transport)
        self._lock = threading.Lock()
        self.counts = {"calls": 0, "cache_hits": 0, "retries": 0,
                       "prompt_tokens": 0, "completion_tokens": 0}

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's answer to ``messages``, from the cache when it was asked before."""
        payload = {"model": self.config.model, "messages": messages,
                   "temperature": self.config.temperature, "max_tokens": self.config.max_tokens}
        key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        path = self.cache_dir / key[:2] / f"{key}.json"
        if path.exists():
            self._count(cache_hits=1)
            return str(read_json(path)["content"])
        answer = self._post(payload)
        content = answer["choices"][0]["message"].get("content") or ""
        usage = answer.get("usage") or {}
        self._count(calls=1, prompt_tokens=int(usage.get("prompt_tokens", 0)),
                    completion_tokens=int(usage.get("completion_tokens", 0)))
        write_json(path, {"content": content, "usage": usage, "model": self.config.model})
        return content

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        problem = ""
        for attempt in range(cfg.max_retries + 1):
            if attempt:
                self._count(retries=1)
            try:
                response = self._http.post("/chat/completions", json=payload)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                problem = f"{type(error).__name__}: {error}"
                time.sleep(cfg.backoff_s * 2**attempt)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
                time.sleep(_retry_after(response) or cfg.backoff_s * 2**attempt)
                continue
            if response.status_code >= 400:
                raise DisentangleError(
                    f"LLM endpoint {cfg.base_url} answered HTTP {response.status_code}: "
                    f"{response.text[:200]!r}; check the model name, base URL and "
                    f"${cfg.api_key_env}"
                )
            try:
                return response.json()
            except ValueError:
                problem = "answer was not JSON"
                time.sleep(cfg.backoff_s * 2**attempt)
        raise DisentangleError(
            f"LLM endpoint {cfg.base_url} failed {cfg.max_retries + 1} times ({problem}); "
            "re-run later, finished features are kept"
        )

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                self.counts[name] += value


def _retry_after(response: httpx.Response) -> float:
    """The server's Retry-After in seconds (capped at a minute), or 0 when absent."""
    try:
        return min(float(response.headers.get("retry-after", 0)), 60.0)
    except ValueError:
        return 0.0
