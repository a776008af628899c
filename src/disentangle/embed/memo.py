"""An in-memory memo of query embeddings: a search page re-runs the same query text each
time a slider moves, and embedding it again is the largest cost of a steered search."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

QUERY_CACHE_SIZE = 256


class MemoizedEmbedder:
    """Wraps an embedder; the last ``size`` distinct texts are answered from memory."""

    def __init__(self, embedder: Any, size: int = QUERY_CACHE_SIZE) -> None:
        self.embedder = embedder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.embedder.embed(missing), strict=True):
                self._cache[text] = np.asarray(vector, np.float32)
        for text in texts:
            self._cache.move_to_end(text)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return np.stack([self._cache[t] for t in texts])
