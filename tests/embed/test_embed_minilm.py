"""The local MiniLM runtimes: shape, normalisation, agreement, and the shared precomputed rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from disentangle.embed import MiniLMEmbedder, make_embedder
from disentangle.errors import DisentangleError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SENTENCES = [
    "The galaxy cluster shows strong gravitational lensing of background sources.",
    "Background galaxies are lensed by the massive cluster's gravity.",
    "We train a convolutional neural network for image classification.",
]


@pytest.fixture(scope="module")
def embedders() -> dict[str, MiniLMEmbedder]:
    """One of each runtime per module: loading the models dominates the test time."""
    return {rt: MiniLMEmbedder(runtime=rt) for rt in ("onnx", "torch")}


@pytest.fixture(scope="module")
def vectors(embedders: dict[str, MiniLMEmbedder]) -> dict[str, np.ndarray]:
    return {rt: e.embed(SENTENCES) for rt, e in embedders.items()}


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_shape_norm_and_similarity(vectors: dict[str, np.ndarray], runtime: str) -> None:
    v = vectors[runtime]
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_runtimes_agree(vectors: dict[str, np.ndarray]) -> None:
    cosines = (vectors["onnx"] * vectors["torch"]).sum(axis=1)
    assert cosines.min() > 0.99


def test_identity_spec_and_empty_input() -> None:
    embedder = make_embedder(MiniLMEmbedder(runtime="torch", batch_size=8).spec())
    assert isinstance(embedder, MiniLMEmbedder)
    assert (embedder.runtime, embedder.batch_size) == ("torch", 8)
    assert embedder.identity.key() == "all-MiniLM-L6-v2-d384"
    assert MiniLMEmbedder().runtime == "onnx"
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(DisentangleError, match="runtime"):
        MiniLMEmbedder(runtime="tensorflow")


def test_onnx_reproduces_shared_precomputed_rows(embedders: dict[str, MiniLMEmbedder]) -> None:
    folder = SHARED / "embeddings-minilm"
    if not (folder / "ids.txt").exists():
        pytest.skip("shared precomputed embeddings not available")
    row_of = {i: r for r, i in enumerate((folder / "ids.txt").read_text().splitlines())}
    texts, rows = [], []
    corpus = next((SHARED / "arxiv-astro-cs-2007-2017").glob("*.jsonl.gz"))
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record["id"] in row_of:
                texts.append(record["title"].strip() + "\n\n" + record["abstract"].strip())
                rows.append(row_of[record["id"]])
                if len(rows) == 3:
                    break
    expected = np.load(folder / "embeddings.npy", mmap_mode="r")[rows].astype(np.float32)
    got = embedders["onnx"].embed(texts)
    cosines = (got * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosines.min() >= 0.999
