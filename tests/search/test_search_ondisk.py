"""The on-disk IVF-PQ index: recall against exact search, filters, a resumable chunked build."""

from __future__ import annotations

import numpy as np
import pytest

from disentangle.search import ExactIndex, Filters, Searcher
from disentangle.search.ondisk import IVFPQIndex, IVFPQSettings, build_ivfpq
from disentangle.workspace import IndexBuild


def clustered(count: int, d: int = 32, clusters: int = 50, seed: int = 0) -> np.ndarray:
    """Unit vectors around random centres (uniform vectors have no structure to learn)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d))
    x = centres[rng.integers(0, clusters, count)] + 0.3 * rng.standard_normal((count, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> dict:
    emb = clustered(6_000)
    queries = clustered(100, seed=1)
    settings = IVFPQSettings.for_size(*emb.shape, chunk_rows=1_500)
    return {"emb": emb, "queries": queries, "settings": settings,
            "index": IVFPQIndex.build_chunked(emb, settings)}


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / truth.shape[1]
                          for f, t in zip(found, truth, strict=True)]))


def test_recall_against_exact_and_scores_are_exact(data):
    emb, queries, index = data["emb"], data["queries"], data["index"]
    truth = ExactIndex(emb).search(queries, 10)[1]
    scores, rows = index.search(queries, 10)
    assert recall(rows, truth) >= 0.95
    assert np.allclose(scores, np.einsum("qkd,qd->qk", emb[rows], queries), atol=1e-5)
    one_list = IVFPQIndex(index.index, emb, effort=1)  # recall must drop: the test can fail
    assert recall(one_list.search(queries, 10)[1], truth) < 0.9


@pytest.mark.parametrize("allowed", [2, 50])
def test_masks_are_honoured_on_both_paths(data, allowed):
    """Every other row (the FAISS selector) and every 50th (the exact subset path)."""
    emb, queries, index = data["emb"], data["queries"], data["index"]
    mask = np.arange(len(emb)) % allowed == 0
    _, rows = index.search(queries, 10, mask)
    assert (rows >= 0).all() and mask[rows].all()
    assert recall(rows, ExactIndex(emb).search(queries, 10, mask)[1]) >= 0.95


def test_searcher_filters_apply_to_the_ivfpq_index(world):
    emb, codes = world["emb"], world["codes"]
    searcher = Searcher(emb, world["corpus"], world["sae"], codes, world["embedder"],
                        labels=world["labels"], index=IVFPQIndex.build_chunked(emb))
    result = searcher.search("topic7 topic3", k=10,
                             filters=Filters.from_cli(require=["galaxy clusters"], exclude=[9]))
    assert len(result.hits) == 10
    for hit in result.hits:
        active = set(codes.indices[hit.row][codes.values[hit.row] > 0].tolist())
        assert 7 in active and 9 not in active


class Interrupted(Exception):
    pass


def test_an_interrupted_build_resumes_and_equals_one_built_at_once(data, tmp_path):
    emb, queries, settings = data["emb"], data["queries"], data["settings"]
    build = IndexBuild(tmp_path / "ivfpq.build")
    chunks = -(-len(emb) // settings.chunk_rows)

    def stop_after_two(done: int, total: int) -> None:
        if done >= 2 * settings.chunk_rows:
            raise Interrupted

    with pytest.raises(Interrupted):
        build_ivfpq(emb, settings, build, stop_after_two)
    assert build.trained_path.exists()
    assert [build.part_path(c).exists() for c in range(chunks)] == [True, True] + [False] * (
        chunks - 2)
    assert not list(build.directory.glob(".*tmp"))  # every file was written atomically
    first_part = build.part_path(0).stat().st_mtime_ns
    resumed = IVFPQIndex(build_ivfpq(emb, settings, build), emb)
    assert build.part_path(0).stat().st_mtime_ns == first_part  # not redone
    assert all(build.part_path(c).exists() for c in range(chunks))
    at_once = data["index"]
    assert len(resumed) == len(emb)
    for a, b in zip(resumed.search(queries, 10), at_once.search(queries, 10), strict=True):
        assert np.array_equal(a, b)


def test_saved_index_is_memory_mapped_and_checked(data, tmp_path):
    emb, queries, index = data["emb"], data["queries"], data["index"]
    path = tmp_path / "ivfpq.faiss"
    index.save(path)
    loaded = IVFPQIndex.load(path, emb, "ivfpq")
    assert "InvertedLists" in type(loaded.index.invlists).__name__
    assert type(loaded.index.invlists).__name__ != "ArrayInvertedLists"
    for a, b in zip(loaded.search(queries, 10), index.search(queries, 10), strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(Exception, match="vectors for"):
        IVFPQIndex.load(path, emb[:100], "ivfpq")


def test_tiny_corpora_get_a_clear_error():
    with pytest.raises(Exception, match="at least 64 vectors"):
        IVFPQSettings.for_size(10, 64)
