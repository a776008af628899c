"""Rebuilding embedders from the specs a workspace records, and picking one for queries."""

from __future__ import annotations

from typing import Any

from disentangle.embed.identity import Embedder, EmbedderIdentity
from disentangle.embed.minilm import MODEL_NAME, MiniLMEmbedder
from disentangle.embed.openai_compat import OpenAICompatibleEmbedder
from disentangle.embed.precomputed import PrecomputedEmbedder
from disentangle.errors import DisentangleError

_KINDS: dict[str, Any] = {
    "minilm": MiniLMEmbedder,
    "openai": OpenAICompatibleEmbedder,
    "precomputed": PrecomputedEmbedder,
}


def make_embedder(spec: dict[str, Any]) -> Embedder:
    """The embedder an earlier ``spec()`` describes."""
    params = dict(spec)
    kind = params.pop("kind", None)
    if kind not in _KINDS:
        raise DisentangleError(
            f"unknown embedder kind {kind!r}; use one of {', '.join(sorted(_KINDS))}"
        )
    try:
        return _KINDS[kind](**params)
    except TypeError as exc:
        raise DisentangleError(f"bad {kind} embedder spec {spec!r} ({exc}); fix the spec") from exc


def query_embedder_for(identity: EmbedderIdentity, spec: dict[str, Any]) -> Embedder:
    """A live embedder producing vectors in the space of a workspace's embeddings.

    Precomputed vectors cannot embed queries; for all-MiniLM-L6-v2 the local model can.
    """
    if spec.get("kind") == "precomputed":
        if identity.model != MODEL_NAME:
            raise DisentangleError(
                f"the workspace's {identity.model} embeddings were precomputed and no local "
                f"model makes them; configure a live embedder (e.g. kind 'openai' with model "
                f"{identity.model!r}) to embed queries"
            )
        embedder: Embedder = MiniLMEmbedder()
    elif spec.get("kind") == "openai" and spec.get("dim") is None:
        embedder = make_embedder({**spec, "dim": identity.dim})
    else:
        embedder = make_embedder(spec)
    if embedder.identity != identity:
        raise DisentangleError(
            f"the workspace's embedder spec makes {embedder.identity}, but its embeddings are "
            f"{identity}; configure an embedder of the same model, dim and normalisation"
        )
    return embedder
