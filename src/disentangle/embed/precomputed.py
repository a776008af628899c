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
from disentangle.embed.minilm import IDENTITY as MINILM
from disentangle.embed.openai_compat import KNOWN_DIMS
from disentangle.errors import DisentangleError

_NORM_TOLERANCE = 1e-2  # float16 storage alone moves norms by ~1e-3
CHECK_ROWS = 65536  # rows checked per block: every row is read once, never all at once
MODEL_DIMS = {MINILM.model: MINILM.dim, **KNOWN_DIMS}
"""Native sizes of the models whose names are known; vectors of another size under such a
name are someone else's (or a truncated matrix) and would only fail at search time."""


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
        dim = int(self._vectors.shape[1])
        if MODEL_DIMS.get(model, dim) != dim:
            raise DisentangleError(
                f"{self.vectors_path} holds {dim}-d vectors but {model} makes "
                f"{MODEL_DIMS[model]}-d ones; pass the --model that made these vectors"
            )
        self._check_rows(ids, normalized)
        self.model = model
        self.identity = EmbedderIdentity(
            model=model, dim=int(self._vectors.shape[1]), normalized=normalized
        )

    def _check_rows(self, ids: list[str], normalized: bool) -> None:
        """Every row finite and, if ``normalized``, of unit length; else name the first bad
        row. Read in blocks so a memory-mapped matrix of millions of rows costs no RAM."""
        for start in range(0, self._vectors.shape[0], CHECK_ROWS):
            block = np.asarray(self._vectors[start:start + CHECK_ROWS], dtype=np.float32)
            bad = ~np.isfinite(block).all(axis=1)
            if bad.any():
                row = start + int(np.argmax(bad))
                raise DisentangleError(
                    f"{self.vectors_path} row {row} (id {ids[row]!r}) holds NaN or infinite "
                    "values; re-create the vectors (or drop that id from --vector-ids and the "
                    "matrix)")
            if normalized:
                norms = np.linalg.norm(block, axis=1)
                off = np.abs(norms - 1) > _NORM_TOLERANCE
                if off.any():
                    row = start + int(np.argmax(off))
                    raise DisentangleError(
                        f"{self.vectors_path} row {row} (id {ids[row]!r}) has length "
                        f"{norms[row - start]:.4g}, not 1; pass --not-normalized if the "
                        "vectors are not meant to be unit length, else re-create them")

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
