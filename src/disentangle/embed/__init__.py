"""Embedding texts, and the cache that makes it incremental.

Flow: a workspace's embeddings are ``embed_texts(corpus texts, embedder, cache)`` where the
cache lives in ``<workspace>/cache/<embedder.identity.key()>``. The cache is keyed by the hash
of each text, so growing a corpus embeds only the new texts, an interrupted run resumes, and
vectors of different embedders never mix. ``seed_cache_from_precomputed`` fills the cache from
shipped vectors first; ``make_embedder(spec)`` rebuilds the embedder a workspace recorded, and
``query_embedder_for`` gives a live embedder for queries in the same space.
"""

from disentangle.embed.batching import embed_texts, seed_cache_from_precomputed
from disentangle.embed.cache import EmbeddingCache, text_hash
from disentangle.embed.factory import make_embedder, query_embedder_for
from disentangle.embed.identity import Embedder, EmbedderIdentity
from disentangle.embed.minilm import MiniLMEmbedder
from disentangle.embed.openai_compat import OpenAICompatibleEmbedder
from disentangle.embed.precomputed import PrecomputedEmbedder

__all__ = [
    "Embedder",
    "EmbedderIdentity",
    "EmbeddingCache",
    "MiniLMEmbedder",
    "OpenAICompatibleEmbedder",
    "PrecomputedEmbedder",
    "embed_texts",
    "make_embedder",
    "query_embedder_for",
    "seed_cache_from_precomputed",
    "text_hash",
]
