"""Precomputed vectors: lookup, refusal to embed, seeding a cache, and the query embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from disentangle.embed import (
    EmbedderIdentity,
    EmbeddingCache,
    MiniLMEmbedder,
    PrecomputedEmbedder,
    embed_texts,
    make_embedder,
    query_embedder_for,
    seed_cache_from_precomputed,
    text_hash,
)
from disentangle.errors import DisentangleError

IDS = ["p1", "p2", "p3"]


@pytest.fixture
def vectors() -> np.ndarray:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(3, 384))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16)


@pytest.fixture
def precomputed(tmp_path: Path, vectors: np.ndarray) -> PrecomputedEmbedder:
    np.save(tmp_path / "emb.npy", vectors)
    (tmp_path / "ids.txt").write_text("\n".join(IDS) + "\n")
    return PrecomputedEmbedder(tmp_path / "emb.npy", tmp_path / "ids.txt", "all-MiniLM-L6-v2")


def test_lookup_returns_found_rows_and_missing_positions(
    precomputed: PrecomputedEmbedder, vectors: np.ndarray
) -> None:
    got, missing = precomputed.lookup(["p3", "nope", "p1", "other"])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, vectors[[2, 0]].astype(np.float32))
    assert missing == [1, 3]
    assert precomputed.identity == EmbedderIdentity("all-MiniLM-L6-v2", 384, True)


def test_embed_refuses_and_spec_rebuilds(precomputed: PrecomputedEmbedder) -> None:
    with pytest.raises(DisentangleError, match="live embedder of the same model"):
        precomputed.embed(["new text"])
    rebuilt = make_embedder(precomputed.spec())
    assert isinstance(rebuilt, PrecomputedEmbedder) and rebuilt.identity == precomputed.identity


def test_validation(tmp_path: Path, vectors: np.ndarray) -> None:
    np.save(tmp_path / "emb.npy", vectors)
    (tmp_path / "short.txt").write_text("a\nb\n")
    with pytest.raises(DisentangleError, match=r"2 ids but .* 3 rows"):
        PrecomputedEmbedder(tmp_path / "emb.npy", tmp_path / "short.txt", "m")
    (tmp_path / "dup.txt").write_text("a\nb\na\n")
    with pytest.raises(DisentangleError, match="repeats ids"):
        PrecomputedEmbedder(tmp_path / "emb.npy", tmp_path / "dup.txt", "m")
    np.save(tmp_path / "raw.npy", vectors.astype(np.float32) * 3)
    (tmp_path / "ids.txt").write_text("a\nb\nc\n")
    with pytest.raises(DisentangleError, match=r"row 0 .* has length 3, not 1; pass --not-norm"):
        PrecomputedEmbedder(tmp_path / "raw.npy", tmp_path / "ids.txt", "m")
    assert not PrecomputedEmbedder(
        tmp_path / "raw.npy", tmp_path / "ids.txt", "m", normalized=False
    ).identity.normalized
    np.save(tmp_path / "ints.npy", np.zeros((3, 4), dtype=np.int32))
    with pytest.raises(DisentangleError, match="2-D float matrix"):
        PrecomputedEmbedder(tmp_path / "ints.npy", tmp_path / "ids.txt", "m")
    with pytest.raises(DisentangleError, match="cannot read"):
        PrecomputedEmbedder(tmp_path / "absent.npy", tmp_path / "ids.txt", "m")


def test_seeding_the_cache_then_embedding_needs_no_embedder_calls(
    tmp_path: Path, precomputed: PrecomputedEmbedder, vectors: np.ndarray
) -> None:
    cache = EmbeddingCache(tmp_path / "cache", precomputed.identity)
    texts = ["first", "unknown", "third"]
    missing = seed_cache_from_precomputed(texts, ["p1", "zz", "p3"], precomputed, cache)
    assert missing == [1]
    assert len(cache) == 2 and text_hash("unknown") not in cache
    np.testing.assert_array_equal(
        cache.get([text_hash("third"), text_hash("first")]), vectors[[2, 0]].astype(np.float32)
    )
    # Everything seeded is served from the cache: the precomputed embedder is never asked.
    got = embed_texts(["third", "first"], precomputed, cache)
    np.testing.assert_array_equal(got, vectors[[2, 0]].astype(np.float32))
    with pytest.raises(DisentangleError, match="one id per text"):
        seed_cache_from_precomputed(texts, ["p1"], precomputed, cache)


def test_query_embedder_for(precomputed: PrecomputedEmbedder, tmp_path: Path) -> None:
    live = query_embedder_for(precomputed.identity, precomputed.spec())
    assert isinstance(live, MiniLMEmbedder) and live.identity == precomputed.identity

    other = EmbedderIdentity("nomic-embed-text", 384, True)
    spec = {**precomputed.spec(), "model": "nomic-embed-text"}
    with pytest.raises(DisentangleError, match="configure a live embedder"):
        query_embedder_for(other, spec)

    openai_identity = EmbedderIdentity("my-model", 8, True)
    openai_spec = {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "my-model"}
    assert query_embedder_for(openai_identity, openai_spec).identity == openai_identity

    with pytest.raises(DisentangleError, match="minilm, openai, precomputed"):
        make_embedder({"kind": "word2vec"})
    with pytest.raises(DisentangleError, match="bad minilm embedder spec"):
        make_embedder({"kind": "minilm", "layers": 3})


def test_dimension_must_match_the_named_model(tmp_path: Path, vectors: np.ndarray) -> None:
    np.save(tmp_path / "emb.npy", vectors[:, :128])
    (tmp_path / "ids.txt").write_text("\n".join(IDS) + "\n")
    with pytest.raises(DisentangleError, match="128-d vectors but all-MiniLM-L6-v2 makes 384-d"):
        PrecomputedEmbedder(tmp_path / "emb.npy", tmp_path / "ids.txt", "all-MiniLM-L6-v2")
    assert PrecomputedEmbedder(tmp_path / "emb.npy", tmp_path / "ids.txt", "my-model",
                               normalized=False).identity.dim == 128


@pytest.mark.parametrize(("bad", "problem"), [(np.nan, "holds NaN or infinite"),
                                              (np.inf, "holds NaN or infinite"),
                                              (None, "has length 1.5, not 1")])
def test_every_row_is_checked_and_the_first_bad_one_named(tmp_path: Path, bad: float | None,
                                                          problem: str,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import disentangle.embed.precomputed as module

    monkeypatch.setattr(module, "CHECK_ROWS", 1000)  # several blocks
    rng = np.random.default_rng(1)
    many = rng.normal(size=(5000, 384)).astype(np.float32)
    many /= np.linalg.norm(many, axis=1, keepdims=True)
    for row in (3217, 4000):
        if bad is None:
            many[row] *= 1.5
        else:
            many[row, 0] = bad
    np.save(tmp_path / "emb.npy", many)
    (tmp_path / "ids.txt").write_text("\n".join(f"id{i}" for i in range(5000)) + "\n")
    with pytest.raises(DisentangleError, match=f"row 3217 \\(id 'id3217'\\) {problem}"):
        PrecomputedEmbedder(tmp_path / "emb.npy", tmp_path / "ids.txt", "all-MiniLM-L6-v2")
