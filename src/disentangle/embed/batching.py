"""Filling an embedding cache: embed only what is new, in resumable chunks, or seed it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing

import numpy as np

from disentangle.embed.cache import EmbeddingCache, text_hash
from disentangle.embed.identity import Embedder
from disentangle.embed.precomputed import PrecomputedEmbedder
from disentangle.errors import DisentangleError

Chunk = list[tuple[str, str]]
"""``(text hash, text)`` pairs embedded together and cached as one shard."""
ChunkRunner = Callable[[list[Chunk]], Iterable[tuple[list[str], np.ndarray]]]
"""Embeds chunks anywhere (here, or on a Ray cluster) and yields ``(hashes, vectors)`` per
chunk as each finishes; the cache is written only by the caller of ``embed_texts``."""


def embed_texts(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache,
    *,
    chunk_size: int = 512,
    on_progress: Callable[[int, int], None] | None = None,
    run_chunks: ChunkRunner | None = None,
) -> np.ndarray:
    """float32 ``[len(texts), dim]`` in input order, embedding only texts not yet cached.

    Each chunk is cached as soon as it is embedded, so an interrupted run loses at most one
    chunk of work and the next run picks up where it stopped. Duplicate texts embed once.
    ``run_chunks`` embeds elsewhere (default: ``embedder`` in this process); the chunks and
    the shards they become are the same either way, so runs of both kinds mix.
    """
    hashes = [text_hash(t) for t in texts]
    new: dict[str, str] = {}
    for position in cache.missing(hashes):
        new.setdefault(hashes[position], texts[position])
    if new:
        _check_same_space(embedder, cache)
        pending = list(new.items())
        chunks = [pending[start : start + chunk_size]
                  for start in range(0, len(pending), chunk_size)]
        done = 0
        # closing: an interrupted run stops the runner's workers at once.
        with closing(iter((run_chunks or in_process(embedder))(chunks))) as results:
            for chunk_hashes, vectors in results:
                cache.put(chunk_hashes, vectors)
                done += len(chunk_hashes)
                if on_progress is not None:
                    on_progress(done, len(pending))
    return cache.get(hashes)


def in_process(embedder: Embedder) -> ChunkRunner:
    """The default runner: embed each chunk here, one after another."""

    def run(chunks: list[Chunk]) -> Iterator[tuple[list[str], np.ndarray]]:
        for chunk in chunks:
            yield [h for h, _ in chunk], embedder.embed([t for _, t in chunk])

    return run


def seed_cache_from_precomputed(
    texts: Sequence[str],
    ids: Sequence[str],
    embedder: PrecomputedEmbedder,
    cache: EmbeddingCache,
) -> list[int]:
    """Cache the precomputed vectors of ``ids`` under their texts' hashes.

    Returns the positions whose id has no precomputed vector; embed those texts with a live
    embedder of the same model into the same cache.
    """
    if len(texts) != len(ids):
        raise DisentangleError(f"{len(texts)} texts but {len(ids)} ids; pass one id per text")
    _check_same_space(embedder, cache)
    vectors, absent = embedder.lookup(ids)
    absent_set = set(absent)
    found = [i for i in range(len(ids)) if i not in absent_set]
    cache.put([text_hash(texts[i]) for i in found], vectors)
    return absent


def _check_same_space(embedder: Embedder, cache: EmbeddingCache) -> None:
    if embedder.identity != cache.identity:
        raise DisentangleError(
            f"embedder makes {embedder.identity} but the cache holds {cache.identity}; "
            "use the cache of this embedder's identity"
        )
