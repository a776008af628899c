"""The Ray engine writes the cache shards and code shards an in-process run writes: equal
vectors and codes for the same 2,000 abstracts, and runs interrupted on one engine resume on
the other. All on one local 2-CPU Ray cluster, started once for these tests."""

from __future__ import annotations

import subprocess
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shared_data import ARXIV, VECTORS, ids_with_vectors

from disentangle import stages
from disentangle.api import (
    CorpusFilter,
    MiniLM,
    Precomputed,
    RayEngine,
    SAEConfig,
    TrainConfig,
    Workspace,
    load_corpus,
)
from disentangle.embed import EmbedderIdentity, EmbeddingCache, embed_texts
from disentangle.embed.cache import text_hash
from disentangle.errors import DisentangleError
from disentangle.ray_engine import RayChunks

DOCUMENTS = 2000
ENGINE = RayEngine()
ONE_ACTOR = RayEngine(cpus_per_actor=2)
"""Where equality across actors is not the point: one actor process starts, not two."""


class HashEmbedder:
    """Deterministic unit vectors seeded by the text: MiniLM's speed is not the point here."""

    identity = EmbedderIdentity(model="hash-test", dim=16, normalized=True)
    batch_size = 64

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(16)
                for t in texts]
        out = np.array(rows, dtype=np.float32).reshape(len(texts), 16)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def spec(self) -> dict[str, Any]:
        return {"kind": "hash-test"}


class RefusedEmbedder(HashEmbedder):
    """An endpoint that refuses every request, as a wrong API key would."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise DisentangleError("the endpoint answered 401; set OPENAI_API_KEY")


class Interrupt(Exception):
    """Raised from a progress callback to stop a run part-way, as Ctrl-C would."""


def stop_after(calls: int) -> Any:
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == calls:
            raise Interrupt

    return progress


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """One local 2-CPU Ray for every Ray test (the engine uses a Ray that is already up)."""
    import ray
    from ray import cloudpickle

    # The test's embedder travels to the workers by value: they cannot import this file.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """2,000 real abstracts, their precomputed MiniLM vectors and a small SAE ``tiny``."""
    ws = Workspace.create(tmp_path_factory.mktemp("ray") / "ws")
    ids = frozenset(ids_with_vectors(DOCUMENTS))
    stages.ingest(ws, load_corpus(ARXIV, filters=CorpusFilter(ids=ids, limit=DOCUMENTS)),
                  sources=[str(ARXIV)])
    stages.embed(ws, Precomputed(VECTORS / "embeddings.npy", VECTORS / "ids.txt"))
    stages.train(ws, SAEConfig(d=384, n=64, k=8), TrainConfig(epochs=1, batch_size=256),
                 name="tiny")
    return ws


def cache_contents(directory: Path) -> list[tuple[list[str], np.ndarray]]:
    out = []
    for shard in sorted(directory.glob("shard-*.npz")):
        with np.load(shard) as data:
            out.append((data["hashes"].tolist(), data["vectors"]))
    return out


def test_embedding_on_ray_writes_the_shards_an_in_process_run_writes(
        ray_cluster: Any, trained: Workspace, tmp_path: Path) -> None:
    texts = stages.corpus_texts(trained)
    embedder = HashEmbedder()
    local = EmbeddingCache(tmp_path / "local", embedder.identity)
    on_ray = EmbeddingCache(tmp_path / "ray", embedder.identity)
    expected = embed_texts(texts, embedder, local, chunk_size=300)
    runner = RayChunks(ENGINE, embedder)
    got = embed_texts(texts, embedder, on_ray, chunk_size=300, run_chunks=runner)
    np.testing.assert_array_equal(got, expected)
    assert runner.run.actors == 2 and runner.run.devices == {"cpu"}
    local_shards, ray_shards = cache_contents(local.directory), cache_contents(on_ray.directory)
    assert len(ray_shards) == len(local_shards) == 7
    for (local_hashes, local_vectors), (ray_hashes, ray_vectors) in zip(
            local_shards, ray_shards, strict=True):
        assert ray_hashes == local_hashes
        np.testing.assert_array_equal(ray_vectors, local_vectors)


@pytest.mark.parametrize("first", ["ray", "local"])
def test_an_interrupted_embedding_resumes_on_the_other_engine(
        ray_cluster: Any, trained: Workspace, tmp_path: Path, first: str) -> None:
    texts = stages.corpus_texts(trained)[:1200]
    embedder = HashEmbedder()
    cache = EmbeddingCache(tmp_path / "cache", embedder.identity)
    runners = {"ray": RayChunks(ONE_ACTOR, embedder), "local": None}
    with pytest.raises(Interrupt):
        embed_texts(texts, embedder, cache, chunk_size=200, run_chunks=runners[first],
                    on_progress=stop_after(2))
    assert len(cache_contents(cache.directory)) == 2  # two chunks kept, the rest never cached
    then = "local" if first == "ray" else "ray"
    resumed = embed_texts(texts, embedder, EmbeddingCache(cache.directory, embedder.identity),
                          chunk_size=200, run_chunks=runners[then])
    np.testing.assert_array_equal(resumed, HashEmbedder().embed(texts))
    shards = cache_contents(cache.directory)
    assert len(shards) == 6 and sum(len(h) for h, _ in shards) == 1200


def test_minilm_actors_embed_like_the_local_minilm(ray_cluster: Any, trained: Workspace,
                                                   tmp_path: Path) -> None:
    """The real MiniLM through the stage on both engines, on 24 abstracts not cached yet."""
    texts = stages.corpus_texts(trained)[:24]
    corpus = trained.corpus().slice(0, 24)
    reports, vectors = {}, {}
    for engine in ("local", "ray"):
        ws = Workspace.create(tmp_path / engine)
        ws.store_corpus(corpus, trained.stage("corpus") | {"documents": 24,
                                                          "corpus_hash": engine})
        reports[engine] = stages.embed(ws, MiniLM(device="auto"),
                                       engine=ONE_ACTOR if engine == "ray" else None)
        vectors[engine] = np.array(ws.embeddings())
        assert ws.stage("embeddings")["spec"] == {"kind": "minilm", "runtime": "onnx",
                                                  "batch_size": 32}
    assert reports["local"].device == "cpu"
    assert reports["ray"].device == "ray (1 actor on cpu)"
    assert reports["ray"].embedded_now == 24 and reports["ray"].docs_per_second
    cosines = (vectors["local"] * vectors["ray"]).sum(axis=1)
    assert cosines.min() > 0.9999
    assert vectors["ray"].shape == (len(texts), 384)


def codes_of(ws: Workspace) -> tuple[np.ndarray, np.ndarray]:
    codes = stages.codes(ws, "tiny")
    return np.array(codes.indices), np.array(codes.values)


def test_encoding_on_ray_gives_the_in_process_codes(ray_cluster: Any, trained: Workspace,
                                                    tmp_path: Path) -> None:
    stages.encode(trained, "tiny", shard_rows=600)
    expected = codes_of(trained)
    stats = trained.sae("tiny").feature_stats()
    trained.forget("codes/tiny")
    report = stages.encode(trained, "tiny", engine=ENGINE, shard_rows=600)
    assert not report.unchanged and len(report.codes) == DOCUMENTS
    for got, want in zip(codes_of(trained), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert trained.sae("tiny").feature_stats().equals(stats)
    assert not trained.sae("tiny").encode_batches.directory.exists()  # cleared when whole


@pytest.mark.parametrize("first", ["ray", "local"])
def test_an_interrupted_encode_resumes_on_the_other_engine(
        ray_cluster: Any, trained: Workspace, first: str) -> None:
    stages.encode(trained, "tiny")
    expected = codes_of(trained)
    trained.forget("codes/tiny")
    engines = {"ray": ONE_ACTOR, "local": None}
    with pytest.raises(Interrupt):
        stages.encode(trained, "tiny", engine=engines[first], shard_rows=500,
                      on_progress=stop_after(2))
    store = trained.sae("tiny").encode_batches
    (run_key,) = [p.name for p in store.directory.iterdir()]
    assert sorted(store.by_first(run_key)) == [0, 500]
    seen: list[int] = []
    stages.encode(trained, "tiny", engine=engines["local" if first == "ray" else "ray"],
                  shard_rows=500, on_progress=lambda done, total: seen.append(done))
    assert seen == [1500, 2000]  # only the two missing shards were encoded
    for got, want in zip(codes_of(trained), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_cuda_on_a_cluster_without_gpus_is_one_clear_error(ray_cluster: Any,
                                                           tmp_path: Path) -> None:
    if ray_cluster.cluster_resources().get("GPU"):
        pytest.skip("this cluster has a GPU")
    cache = EmbeddingCache(tmp_path, EmbedderIdentity("all-MiniLM-L6-v2", 384, True))
    from disentangle.embed import MiniLMEmbedder

    embedder = MiniLMEmbedder(device="cuda")
    with pytest.raises(DisentangleError, match="the Ray cluster has no GPU"):
        embed_texts(["a text"], embedder, cache, run_chunks=RayChunks(ENGINE, embedder))


def test_a_workers_error_is_the_same_one_line(ray_cluster: Any, tmp_path: Path) -> None:
    embedder = RefusedEmbedder()
    cache = EmbeddingCache(tmp_path, embedder.identity)
    with pytest.raises(DisentangleError) as error:
        embed_texts(["a text"], embedder, cache, run_chunks=RayChunks(ONE_ACTOR, embedder))
    assert str(error.value) == "the endpoint answered 401; set OPENAI_API_KEY"


def test_more_cpus_per_actor_than_the_cluster_has_is_refused(ray_cluster: Any,
                                                             tmp_path: Path) -> None:
    embedder = HashEmbedder()
    cache = EmbeddingCache(tmp_path, embedder.identity)
    runner = RayChunks(RayEngine(cpus_per_actor=3), embedder)
    with pytest.raises(DisentangleError, match="the Ray cluster has 2 CPUs; ask for at most 2"):
        embed_texts(["a text"], embedder, cache, run_chunks=runner)


def test_a_missing_ray_is_one_line_naming_the_install(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when absent
    embedder = HashEmbedder()
    cache = EmbeddingCache(tmp_path, embedder.identity)
    with pytest.raises(DisentangleError, match=r"install it with pip install -e '\.\[ray\]'"):
        embed_texts(["a text"], embedder, cache, run_chunks=RayChunks(ENGINE, embedder))
    assert text_hash("a text") not in cache


def test_the_cli_never_imports_ray_unless_asked(trained: Workspace) -> None:
    code = ("import sys; from disentangle.cli.main import main; "
            f"code = main(['encode', '-w', {str(trained.root)!r}, '--sae', 'tiny']); "
            "print(code, 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-2:] == ["0", "False"]
