"""Who made a vector: the identity that keys the cache, and the protocol every embedder meets.

Vectors from different models (or dimensions, or normalisations) live in different spaces and
must never be mixed; the identity is what the cache compares to guarantee that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from disentangle.errors import DisentangleError


@dataclass(frozen=True)
class EmbedderIdentity:
    """The embedding space a vector belongs to."""

    model: str
    dim: int
    normalized: bool

    def key(self) -> str:
        """Filesystem-safe folder name, e.g. ``all-MiniLM-L6-v2-d384``.

        Distinct identities can share a slug only through punctuation in model names; the cache
        stores the full identity beside its shards and refuses a mismatch, so that is harmless.
        """
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.model).strip("-.") or "model"
        return f"{slug}-d{self.dim}" + ("" if self.normalized else "-raw")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EmbedderIdentity:
        try:
            return cls(model=str(d["model"]), dim=int(d["dim"]), normalized=bool(d["normalized"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DisentangleError(
                f"malformed embedder identity {d!r}; it needs model, dim and normalized"
            ) from exc


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of one identity; ``spec()`` lets a workspace rebuild it later."""

    identity: EmbedderIdentity
    batch_size: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), identity.dim]``, row i for text i."""
        ...

    def spec(self) -> dict[str, Any]:
        """JSON-able recipe for :func:`~disentangle.embed.factory.make_embedder`; no secrets."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit rows (zero rows stay zero rather than becoming NaN)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
