"""The local MiniLM runtimes: shape, normalisation, agreement, the shared precomputed rows,
and devices (the CUDA tests skip without a GPU and run where torch sees one)."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from disentangle.embed import MiniLMEmbedder, make_embedder
from disentangle.embed.minilm import resolve
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


CUDA = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="needs a CUDA GPU (torch.cuda.is_available() is false)")


@pytest.mark.parametrize(("runtime", "device", "cuda", "providers", "expected"), [
    ("onnx", "auto", False, ["CPUExecutionProvider"], ("onnx", "cpu")),
    ("torch", "auto", True, ["CPUExecutionProvider"], ("torch", "cuda")),
    ("onnx", "auto", True, ["CUDAExecutionProvider", "CPUExecutionProvider"], ("onnx", "cuda")),
    ("onnx", "cuda", True, ["CPUExecutionProvider"], ("torch", "cuda")),  # no onnxruntime-gpu
    ("onnx", "cpu", True, ["CUDAExecutionProvider"], ("onnx", "cpu")),
])
def test_device_resolution(runtime: str, device: str, cuda: bool, providers: list[str],
                           expected: tuple[str, str]) -> None:
    assert resolve(runtime, device, cuda, providers) == expected


def test_device_is_not_part_of_identity_spec_or_pickle() -> None:
    embedder = make_embedder({"kind": "minilm", "runtime": "onnx", "device": "cpu"})
    assert embedder.device == "cpu" and embedder.identity == MiniLMEmbedder().identity
    assert "device" not in embedder.spec()
    copy = pickle.loads(pickle.dumps(embedder))
    assert (copy.device, copy.runtime, copy.running_on) == ("cpu", "onnx", None)
    with pytest.raises(DisentangleError, match="unknown device 'tpu'"):
        MiniLMEmbedder(device="tpu")


def test_auto_runs_where_torch_sees_a_device(embedders: dict[str, MiniLMEmbedder]) -> None:
    embedders["onnx"].load()
    assert embedders["onnx"].running_on == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_one_line_naming_the_fix() -> None:
    with pytest.raises(DisentangleError) as error:
        MiniLMEmbedder(device="cuda").embed(["a text"])
    message = str(error.value)
    assert "\n" not in message and "torch sees no CUDA GPU" in message
    assert "--device cpu" in message


@CUDA
@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_cuda_vectors_match_cpu_vectors(runtime: str) -> None:
    """fp16 torch (or ONNX on the CUDA provider) against the CPU runtimes, same identity."""
    cpu = MiniLMEmbedder(runtime=runtime, device="cpu")
    gpu = MiniLMEmbedder(runtime=runtime, device="cuda", batch_size=2)
    texts = [*SENTENCES, "A short one.", " ".join(SENTENCES * 6)]  # lengths differ: sorting
    on_cpu, on_gpu = cpu.embed(texts), gpu.embed(texts)
    assert gpu.running_on == "cuda" and gpu.identity == cpu.identity
    assert on_gpu.shape == on_cpu.shape and on_gpu.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(on_gpu, axis=1), 1.0, atol=1e-5)
    assert (on_cpu * on_gpu).sum(axis=1).min() >= 0.999
