"""An in-memory memo of query embeddings: a search page re-runs the same query text each
time a slider moves, and embedding it again is the largest cost of a steered search."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

QUERY_CACHE_SIZE = 256


class MemoizedEmbedder:
    """Wraps an embedder; the last ``size`` distinct texts are answered from memory.
    Thread-safe (the server answers from several worker threads); the embedding itself runs
    outside the lock, so one slow new query does not hold up the cached ones."""

    def __init__(self, embedder: Any, size: int = QUERY_CACHE_SIZE) -> None:
        self.embedder = embedder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in dict.fromkeys(texts):
                if text in self._cache:
                    self._cache.move_to_end(text)
                    found[text] = self._cache[text]
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            for text, vector in zip(missing, self.embedder.embed(missing), strict=True):
                found[text] = np.asarray(vector, np.float32)
            with self._lock:
                for text in missing:
                    self._cache[text] = found[text]
                    self._cache.move_to_end(text)
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])
