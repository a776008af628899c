"""Content-addressed, append-only embedding cache for one embedder identity.

Vectors are keyed by the sha256 of the exact text embedded, so the same text is never
embedded twice, however corpora are grown, filtered or re-imported. Each :meth:`put` writes
one new shard file atomically and existing shards are never rewritten: a crash loses at most
the shard being written, and an interrupted embedding run resumes from the last shard.
One writer per cache directory at a time.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from disentangle.embed.identity import EmbedderIdentity
from disentangle.errors import DisentangleError
from disentangle.io import atomic_path, read_json, write_json

_SHARD = re.compile(r"shard-(\d{6,})\.npz")


def text_hash(text: str) -> str:
    """sha256 hex of the UTF-8 text: the cache key of its embedding."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors by text hash in ``directory`` (``<workspace>/cache/<identity.key()>``)."""

    def __init__(self, directory: Path, identity: EmbedderIdentity) -> None:
        self.directory = Path(directory)
        self.identity = identity
        identity_file = self.directory / "identity.json"
        if identity_file.exists():
            stored = EmbedderIdentity.from_dict(read_json(identity_file))
            if stored != identity:
                raise DisentangleError(
                    f"embedding cache {self.directory} holds {stored}, not {identity}; "
                    "never mix embedders: use the cache folder named after this embedder"
                )
        else:
            write_json(identity_file, identity.to_dict())
        self._where: dict[str, tuple[Path, int]] = {}
        for shard in self._shards():
            for row, h in enumerate(self._read(shard, "hashes")):
                self._where.setdefault(str(h), (shard, row))

    def __contains__(self, h: object) -> bool:
        return h in self._where

    def __len__(self) -> int:
        return len(self._where)

    def missing(self, hashes: Sequence[str]) -> list[int]:
        """Positions of the hashes not cached yet."""
        return [i for i, h in enumerate(hashes) if h not in self._where]

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Append the not-yet-cached rows as one new shard, written atomically."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(hashes), self.identity.dim):
            raise DisentangleError(
                f"cannot cache vectors of shape {vectors.shape} for {len(hashes)} texts of "
                f"{self.identity.model} (dim {self.identity.dim}); the embedder is misbehaving"
            )
        if not np.isfinite(vectors).all():
            raise DisentangleError(
                "the embedder returned NaN or infinite values; check the embedder and retry"
            )
        fresh: dict[str, int] = {}
        for row, h in enumerate(hashes):
            if h not in self._where:
                fresh.setdefault(h, row)
        if not fresh:
            return
        numbers = [int(m.group(1)) for p in self._shards() if (m := _SHARD.fullmatch(p.name))]
        shard = self.directory / f"shard-{max(numbers, default=-1) + 1:06d}.npz"
        with atomic_path(shard) as tmp, open(tmp, "wb") as f:
            np.savez(f, hashes=np.array(list(fresh)), vectors=vectors[list(fresh.values())])
        for row, h in enumerate(fresh):
            self._where[h] = (shard, row)

    def get(self, hashes: Sequence[str]) -> np.ndarray:
        """float32 ``[len(hashes), dim]`` in input order; every hash must be cached."""
        absent = self.missing(hashes)
        if absent:
            raise DisentangleError(
                f"{len(absent)} of {len(hashes)} texts are not in the embedding cache "
                f"{self.directory}; embed them first"
            )
        out = np.empty((len(hashes), self.identity.dim), dtype=np.float32)
        by_shard: dict[Path, list[tuple[int, int]]] = {}
        for position, h in enumerate(hashes):
            shard, row = self._where[h]
            by_shard.setdefault(shard, []).append((position, row))
        for shard, pairs in by_shard.items():  # each shard is read once, then released
            positions, rows = zip(*pairs, strict=True)
            out[list(positions)] = self._read(shard, "vectors")[list(rows)]
        return out

    def _shards(self) -> list[Path]:
        return sorted(p for p in self.directory.glob("shard-*.npz") if _SHARD.fullmatch(p.name))

    def _read(self, shard: Path, member: str) -> np.ndarray:
        try:
            with np.load(shard, allow_pickle=False) as data:
                return data[member]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise DisentangleError(
                f"cache shard {shard} is unreadable ({exc}); delete it and its texts will be "
                "embedded again"
            ) from exc
