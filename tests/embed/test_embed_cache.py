"""The content-addressed cache and embed_texts: round trips, identity safety, resumption, growth."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from disentangle.embed import EmbedderIdentity, EmbeddingCache, embed_texts, text_hash
from disentangle.errors import DisentangleError

IDENTITY = EmbedderIdentity(model="fake", dim=4, normalized=False)


class CountingEmbedder:
    """Deterministic vectors from the text; records every text it embeds; can fail on cue."""

    identity = IDENTITY
    batch_size = 2

    def __init__(self, fail_after_calls: int | None = None) -> None:
        self.fail_after_calls = fail_after_calls
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_after_calls is not None and len(self.calls) == self.fail_after_calls:
            raise KeyboardInterrupt
        self.calls.append(list(texts))
        return np.array([[len(t), ord(t[0]), ord(t[-1]), 1.0] for t in texts], np.float32)

    def spec(self) -> dict[str, Any]:
        return {"kind": "fake"}

    @property
    def embedded(self) -> list[str]:
        return [t for call in self.calls for t in call]


TEXTS = [f"text number {i}" for i in range(10)]


def test_text_hash_is_sha256_of_utf8() -> None:
    assert text_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert text_hash("é") == "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c"


def test_identity_key_and_round_trip() -> None:
    identity = EmbedderIdentity(model="org/model v2", dim=768, normalized=False)
    assert identity.key() == "org-model-v2-d768-raw"
    assert EmbedderIdentity("all-MiniLM-L6-v2", 384, True).key() == "all-MiniLM-L6-v2-d384"
    assert EmbedderIdentity.from_dict(identity.to_dict()) == identity
    with pytest.raises(DisentangleError, match="malformed"):
        EmbedderIdentity.from_dict({"model": "x"})


def test_put_get_round_trip_survives_reopening(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, IDENTITY)
    hashes = [text_hash(t) for t in ("a", "b", "c")]
    vectors = np.arange(12, dtype=np.float64).reshape(3, 4)
    cache.put(hashes[:2], vectors[:2])
    cache.put(hashes[1:], vectors[1:])  # "b" again: not duplicated
    assert sorted(p.name for p in tmp_path.glob("shard-*.npz")) == [
        "shard-000000.npz",
        "shard-000001.npz",
    ]
    with np.load(tmp_path / "shard-000001.npz") as second:
        assert second["hashes"].tolist() == [hashes[2]]
    reopened = EmbeddingCache(tmp_path, IDENTITY)
    assert len(reopened) == 3 and hashes[0] in reopened and text_hash("z") not in reopened
    got = reopened.get(hashes[::-1])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, vectors[::-1])
    assert reopened.missing([hashes[0], text_hash("z")]) == [1]
    with pytest.raises(DisentangleError, match="1 of 2 texts are not in the embedding cache"):
        reopened.get([hashes[0], text_hash("z")])


def test_put_validates_shape_and_values(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, IDENTITY)
    with pytest.raises(DisentangleError, match="shape"):
        cache.put(["h"], np.zeros((1, 3)))
    with pytest.raises(DisentangleError, match="NaN"):
        cache.put(["h"], np.full((1, 4), np.nan))
    assert len(cache) == 0 and not list(tmp_path.glob("shard-*"))


def test_identity_mismatch_is_refused(tmp_path: Path) -> None:
    EmbeddingCache(tmp_path, IDENTITY)
    for other in (
        EmbedderIdentity("fake", 8, False),
        EmbedderIdentity("fake", 4, True),
        EmbedderIdentity("other", 4, False),
    ):
        with pytest.raises(DisentangleError, match="never mix embedders"):
            EmbeddingCache(tmp_path, other)


def test_embed_texts_refuses_embedder_of_other_identity(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, EmbedderIdentity("fake", 4, True))
    with pytest.raises(DisentangleError, match="cache holds"):
        embed_texts(["x"], CountingEmbedder(), cache)


def test_interrupted_run_resumes_with_only_the_rest(tmp_path: Path) -> None:
    reference = embed_texts(TEXTS, CountingEmbedder(), EmbeddingCache(tmp_path / "ref", IDENTITY))

    cache = EmbeddingCache(tmp_path / "run", IDENTITY)
    crashing = CountingEmbedder(fail_after_calls=2)
    with pytest.raises(KeyboardInterrupt):
        embed_texts(TEXTS, crashing, cache, chunk_size=3)
    assert crashing.embedded == TEXTS[:6]

    resumed = CountingEmbedder()
    progress: list[tuple[int, int]] = []
    got = embed_texts(
        TEXTS,
        resumed,
        EmbeddingCache(tmp_path / "run", IDENTITY),
        chunk_size=3,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert resumed.embedded == TEXTS[6:]
    assert progress == [(3, 4), (4, 4)]
    np.testing.assert_array_equal(got, reference)


def test_growing_corpus_embeds_only_new_texts_and_duplicates_once(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, IDENTITY)
    first = CountingEmbedder()
    embed_texts(TEXTS[:5] + TEXTS[:2], first, cache)
    assert first.embedded == TEXTS[:5]

    second = CountingEmbedder()
    grown = ["brand new", *TEXTS, "brand new"]
    got = embed_texts(grown, second, cache)
    assert second.embedded == ["brand new", *TEXTS[5:]]
    assert got.shape == (12, 4)
    np.testing.assert_array_equal(got, CountingEmbedder().embed(grown))

    untouched = CountingEmbedder()
    embed_texts(grown, untouched, cache)
    assert untouched.calls == []
