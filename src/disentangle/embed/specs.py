"""Typed descriptions of the embedders a user can choose; ``as_dict`` gives the record a
workspace stores (and ``make_embedder`` rebuilds from)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from disentangle.embed.minilm import MODEL_NAME


@dataclass(frozen=True)
class MiniLM:
    """The local all-MiniLM-L6-v2 (shipped offline): ``onnx`` (int8) or ``torch`` (fp32), on
    ``device`` ``auto`` (CUDA when torch sees a GPU), ``cpu`` or ``cuda``; every device gives
    the same identity and shares one cache."""

    kind: ClassVar[str] = "minilm"
    runtime: str = "onnx"
    batch_size: int = 32
    device: str = "auto"


@dataclass(frozen=True)
class OpenAICompatible:
    """Any OpenAI-compatible ``/embeddings`` endpoint; the key is read from ``api_key_env``."""

    kind: ClassVar[str] = "openai"
    model: str = "text-embedding-3-small"
    base_url: str | None = None
    dimensions: int | None = None
    api_key_env: str = "OPENAI_API_KEY"
    batch_size: int = 256


@dataclass(frozen=True)
class Precomputed:
    """Vectors made elsewhere: row i of ``vectors`` (.npy) belongs to line i of ``ids``."""

    kind: ClassVar[str] = "precomputed"
    vectors: Path
    ids: Path
    model: str = MODEL_NAME
    normalized: bool = True


EmbedderSpec = MiniLM | OpenAICompatible | Precomputed


def as_dict(spec: EmbedderSpec) -> dict[str, Any]:
    """The ``make_embedder`` record of a typed spec (unset optional fields left out)."""
    values = {f.name: getattr(spec, f.name) for f in fields(spec)}
    if isinstance(spec, Precomputed):
        values = {"vectors_path": str(spec.vectors), "ids_path": str(spec.ids),
                  "model": spec.model, "normalized": spec.normalized}
    return {"kind": spec.kind, **{k: v for k, v in values.items() if v is not None}}


__all__ = ["EmbedderSpec", "MiniLM", "OpenAICompatible", "Precomputed", "as_dict"]
