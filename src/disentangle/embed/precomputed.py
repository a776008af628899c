"""Vectors someone already computed (a ``.npy`` matrix plus an id per row).

They save hours of embedding for a known corpus but cannot embed anything new: new texts and
queries need a live embedder of the same model (see ``query_embedder_for``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from disentangle.embed.identity import EmbedderIdentity
from disentangle.errors import DisentangleError

_NORM_TOLERANCE = 1e-2  # float16 storage alone moves norms by ~1e-3


class PrecomputedEmbedder:
    """Vectors by document id: row i of ``vectors_path`` belongs to line i of ``ids_path``."""

    batch_size = 8192  # lookups need no batching; present to satisfy the Embedder protocol

    def __init__(
        self, vectors_path: str | Path, ids_path: str | Path, model: str, normalized: bool = True
    ) -> None:
        self.vectors_path = Path(vectors_path).resolve()
        self.ids_path = Path(ids_path).resolve()
        fix = "point the precomputed embedder at an existing .npy matrix and its ids file"
        try:
            self._vectors = np.load(self.vectors_path, mmap_mode="r", allow_pickle=False)
            ids = self.ids_path.read_text(encoding="utf-8").splitlines()
        except (OSError, ValueError) as exc:
            raise DisentangleError(f"cannot read precomputed embeddings ({exc}); {fix}") from exc
        if self._vectors.ndim != 2 or not np.issubdtype(self._vectors.dtype, np.floating):
            raise DisentangleError(
                f"{self.vectors_path} holds a {self._vectors.dtype} array of shape "
                f"{self._vectors.shape}, not a 2-D float matrix; {fix}"
            )
        if len(ids) != self._vectors.shape[0]:
            raise DisentangleError(
                f"{self.ids_path} has {len(ids)} ids but {self.vectors_path} has "
                f"{self._vectors.shape[0]} rows; they must correspond line for row"
            )
        self._row = {doc_id: row for row, doc_id in enumerate(ids)}
        if len(self._row) != len(ids):
            raise DisentangleError(f"{self.ids_path} repeats ids; each id must appear once")
        if normalized:
            sample = np.asarray(self._vectors[:1000], dtype=np.float32)
            worst = float(np.abs(np.linalg.norm(sample, axis=1) - 1).max(initial=0.0))
            if worst > _NORM_TOLERANCE:
                raise DisentangleError(
                    f"{self.vectors_path} rows are not unit length (off by {worst:.3g}); "
                    "pass normalized=False"
                )
        self.model = model
        self.identity = EmbedderIdentity(
            model=model, dim=int(self._vectors.shape[1]), normalized=normalized
        )

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "precomputed",
            "vectors_path": str(self.vectors_path),
            "ids_path": str(self.ids_path),
            "model": self.model,
            "normalized": self.identity.normalized,
        }

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise DisentangleError(
            f"precomputed {self.model} embeddings cannot embed new texts; embed them with a "
            f"live embedder of the same model ({self.model})"
        )

    def lookup(self, ids: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """float32 vectors of the ids found (in input order) and positions of those not found."""
        rows: list[int] = []
        missing: list[int] = []
        for position, doc_id in enumerate(ids):
            row = self._row.get(doc_id)
            if row is None:
                missing.append(position)
            else:
                rows.append(row)
        return np.asarray(self._vectors[rows], dtype=np.float32), missing
