"""Embeddings from any server speaking OpenAI's ``POST /embeddings`` (OpenAI, vLLM, Ollama, …).

Long corpora meet rate limits and flaky networks, so requests are retried with exponential
backoff and jitter (honouring ``Retry-After``); client errors that retrying cannot fix become a
one-line :class:`DisentangleError` with the server's message and a hint.
"""

from __future__ import annotations

import email.utils
import os
import random
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from disentangle.embed.identity import EmbedderIdentity, l2_normalize
from disentangle.errors import DisentangleError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
"""Native output sizes, so the identity of the usual models is known without a request."""

_sleep = time.sleep  # module attribute so tests can observe backoff without waiting


class _Retryable(Exception):
    """A failure worth another attempt; ``delay`` is the server's Retry-After, if any."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class OpenAICompatibleEmbedder:
    """Remote embedder; the API key is read from ``api_key_env`` at call time, never stored.

    ``identity.dim`` is, in order: ``dim`` if given, else ``dimensions``, else the known size
    of ``model``, else learned from the first response. Reading ``identity`` while the size is
    still unknown sends one tiny probe request; pass ``dim`` to avoid it.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str = "text-embedding-3-small",
        api_key_env: str = "OPENAI_API_KEY",
        dimensions: int | None = None,
        dim: int | None = None,
        normalize: bool = True,
        batch_size: int = 256,
        max_retries: int = 6,
        timeout: float = 60.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.dimensions = dimensions
        self.dim = dim or dimensions or KNOWN_DIMS.get(model)
        self.normalize = normalize
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max

    @property
    def identity(self) -> EmbedderIdentity:
        if self.dim is None:
            self.embed(["dimension probe"])
        assert self.dim is not None
        return EmbedderIdentity(model=self.model, dim=self.dim, normalized=self.normalize)

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "openai",
            "base_url": self.base_url,
            "model": self.model,
            "api_key_env": self.api_key_env,
            "dimensions": self.dimensions,
            "dim": self.dim,
            "normalize": self.normalize,
            "batch_size": self.batch_size,
            "max_retries": self.max_retries,
            "timeout": self.timeout,
        }

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif self.base_url == DEFAULT_BASE_URL:
            raise DisentangleError(
                f"{self.api_key_env} is not set; export your OpenAI API key in it"
            )
        parts = []
        with httpx.Client(timeout=self.timeout, headers=headers) as client:
            for start in range(0, len(texts), self.batch_size):
                parts.append(
                    self._embed_batch(client, list(texts[start : start + self.batch_size]))
                )
        vectors = np.concatenate(parts)
        return l2_normalize(vectors) if self.normalize else vectors

    def _embed_batch(self, client: httpx.Client, batch: list[str]) -> np.ndarray:
        body: dict[str, Any] = {"model": self.model, "input": batch}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        for attempt in range(self.max_retries + 1):
            try:
                return self._parse(self._post(client, body), len(batch))
            except _Retryable as exc:
                if attempt == self.max_retries:
                    raise DisentangleError(
                        f"embedding request to {self.base_url} failed after "
                        f"{attempt + 1} attempts ({exc}); check the server or retry later"
                    ) from exc
                backoff = min(self.backoff_max, self.backoff_base * 2**attempt)
                _sleep(exc.delay if exc.delay is not None else backoff * random.uniform(0.5, 1))
        raise AssertionError("unreachable")

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
        try:
            response = client.post(f"{self.base_url}/embeddings", json=body)
        except httpx.TransportError as exc:  # timeouts and connection errors
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(
                f"HTTP {response.status_code}", _retry_after(response.headers.get("Retry-After"))
            )
        if response.status_code >= 400:
            raise DisentangleError(
                f"embedding server {self.base_url} answered HTTP {response.status_code}: "
                f"{_server_message(response)}; {self._hint(response.status_code)}"
            )
        return response

    def _hint(self, status: int) -> str:
        if status in (401, 403):
            return f"set {self.api_key_env} to a valid API key for {self.base_url}"
        if status == 404:
            return f"check the base URL and that the server serves model {self.model!r}"
        if status == 413:
            return "lower the embedder's batch_size"
        return f"check the model name {self.model!r}, dimensions and input texts"

    def _parse(self, response: httpx.Response, n: int) -> np.ndarray:
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.array([item["embedding"] for item in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise DisentangleError(
                f"embedding server {self.base_url} sent an unexpected response "
                f"({response.text[:200]!r}); check that it is OpenAI-compatible"
            ) from exc
        if [item["index"] for item in data] != list(range(n)) or vectors.ndim != 2:
            raise DisentangleError(
                f"embedding server {self.base_url} returned {len(data)} embeddings for {n} "
                "inputs; check that it is OpenAI-compatible"
            )
        if self.dim is None:
            self.dim = vectors.shape[1]
        elif vectors.shape[1] != self.dim:
            raise DisentangleError(
                f"embedding server returned {vectors.shape[1]}-dim vectors, expected {self.dim}; "
                "fix the embedder's dim/dimensions setting"
            )
        return vectors


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return " ".join(str(message or response.text or response.reason_phrase).split())[:300]
