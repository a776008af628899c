"""The CLI end to end on a tiny synthetic corpus: ingest → embed → train → encode → search."""

import json

import numpy as np
import pytest

from disentangle import stages
from disentangle.cli.main import main
from disentangle.embed.specs import Precomputed
from disentangle.errors import DisentangleError
from disentangle.io import read_parquet
from disentangle.workspace import Workspace

TOPICS = {
    "astro-ph.GA": ["galaxy", "stellar", "halo", "dark matter", "spiral arms", "redshift"],
    "cs.LG": ["neural network", "gradient descent", "training", "classifier", "dataset"],
    "astro-ph.EP": ["exoplanet", "transit", "planetary atmosphere", "host star", "orbit"],
}


def write_corpus(path, per_topic=24):
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        for topic, words in TOPICS.items():
            for i in range(per_topic):
                picked = rng.choice(words, size=4, replace=False)
                record = {"id": f"{topic}-{i}", "title": f"On {picked[0]} and {picked[1]}",
                          "abstract": f"We study {picked[0]}, {picked[1]} and {picked[2]}. "
                                      f"Our results on {picked[3]} are new.",
                          "categories": [topic], "date": f"{2010 + i % 5}-01-01",
                          "year": 2010 + i % 5}
                f.write(json.dumps(record) + "\n")
        f.write("{not json\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus.jsonl"
    write_corpus(corpus)
    ws = root / "ws"
    assert main(["ingest", str(corpus), "-w", str(ws), "--skip-bad"]) == 0
    assert main(["embed", "-w", str(ws)]) == 0
    assert main(["train", "-w", str(ws), "--n", "32", "--k", "4", "--epochs", "3",
                 "--batch-size", "16", "--lr", "3e-3", "--name", "tiny"]) == 0
    assert main(["encode", "-w", str(ws), "--sae", "tiny"]) == 0
    return root, ws


def test_pipeline_outputs_on_disk(built):
    _, ws = built
    workspace = Workspace.open(ws)
    assert workspace.corpus().num_rows == 72  # the malformed line was skipped
    assert workspace.stage("corpus")["skipped_bad"] == 1
    assert workspace.embeddings().shape == (72, 384)
    codes = stages.codes(workspace, "tiny")
    assert codes.indices.shape == (72, 4)
    assert (workspace.sae_folder("tiny").feature_stats_path).exists()
    assert (workspace.sae_folder("tiny").weights_path).exists()


def test_search_returns_topical_hits(built, capsys):
    _, ws = built
    capsys.readouterr()
    assert main(["search", "exoplanet transit orbit", "-w", str(ws), "-k", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    categories = [hit["categories"][0] for hit in result["hits"]]
    assert categories.count("astro-ph.EP") >= 4
    assert result["query_features"], "the query's features are reported"


def test_approximate_index_is_built_once_and_agrees_with_exact(built, capsys, monkeypatch):
    _, ws = built
    workspace = Workspace.open(ws)
    runs = {}
    for index in ("exact", "hnsw"):
        capsys.readouterr()
        assert main(["search", "galaxy halo", "-w", str(ws), "-k", "5", "--json",
                     "--index", index]) == 0
        runs[index] = [round(hit["score"], 5)
                       for hit in json.loads(capsys.readouterr().out)["hits"]]
    # 72 documents: the graph search is exact here (compared by score: the tiny corpus has
    # documents with identical text, whose order among equals is arbitrary).
    assert runs["hnsw"] == runs["exact"]
    saved = workspace.index_path("hnsw")
    assert saved.exists() and saved.with_suffix(".json").exists()

    builds = []
    build = stages.search.FaissIndex.build
    monkeypatch.setattr(stages.search.FaissIndex, "build",
                        lambda *args, **kwargs: builds.append(1) or build(*args, **kwargs))
    assert stages.ann_index(workspace, "hnsw").index.ntotal == 72
    assert builds == []  # loaded, not rebuilt
    # Embeddings recorded anew (as after `disentangle embed` on a changed corpus): rebuilt.
    workspace.record("embeddings", {**workspace.stage("embeddings"), "test_rerun": True})
    stages.ann_index(workspace, "hnsw")
    assert builds == [1]
    assert stages.ann_index(workspace, "hnsw").index.ntotal == 72 and builds == [1]
    # A damaged index file is a cache miss: rebuilt, not a traceback.
    saved.write_bytes(saved.read_bytes()[:100])
    assert stages.ann_index(workspace, "hnsw").index.ntotal == 72 and builds == [1, 1]


def test_rerun_skips_finished_stages(built, capsys):
    _, ws = built
    capsys.readouterr()
    assert main(["embed", "-w", str(ws)]) == 0
    assert "up to date" in capsys.readouterr().err


def test_errors_are_one_line_and_leave_workspace_intact(built, capsys):
    root, ws = built
    before = (ws / "manifest.json").read_bytes()
    capsys.readouterr()
    assert main(["ingest", str(root / "missing.jsonl"), "-w", str(ws)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "missing.jsonl" in err
    assert main(["ingest", str(root / "corpus.jsonl"), "-w", str(ws)]) == 2  # malformed line
    assert "--skip-bad" in capsys.readouterr().err
    assert main(["search", "x", "-w", str(ws), "--sae", "nope"]) == 2
    assert (ws / "manifest.json").read_bytes() == before


def test_other_embedder_refused(built, tmp_path):
    _, ws = built
    vectors = tmp_path / "v.npy"
    np.save(vectors, np.eye(72, 8, dtype=np.float32))
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(Workspace.open(ws).corpus().column("id").to_pylist()))
    spec = Precomputed(vectors, ids, model="toy-model", normalized=False)
    with pytest.raises(DisentangleError, match="--replace"):
        stages.embed(Workspace.open(ws), spec)


def test_sweep_trains_the_grid_and_fits_scaling_laws(built, capsys):
    _, ws = built
    args = ["sweep", "-w", str(ws), "--n", "16,32", "--k", "2,4", "--epochs", "2",
            "--batch-size", "16", "--lr", "3e-3"]
    assert main(args) == 0
    workspace = Workspace.open(ws)
    assert {"sweep-n16-k2", "sweep-n32-k4"} <= set(workspace.sae_names())
    scaling = json.loads((ws / "sweeps" / "scaling.json").read_text())
    assert scaling, "the scaling fit is written"
    before = (workspace.sae_folder("sweep-n16-k2").weights_path).stat().st_mtime_ns
    assert main(args) == 0  # finished members are skipped, not retrained
    after = (workspace.sae_folder("sweep-n16-k2").weights_path).stat().st_mtime_ns
    assert before == after


def test_batchtopk_trains_encodes_and_explains_with_padded_codes(built, capsys):
    _, ws = built
    assert main(["train", "-w", str(ws), "--n", "32", "--k", "4", "--epochs", "3",
                 "--batch-size", "16", "--lr", "3e-3", "--arch", "batchtopk"]) == 0
    assert main(["encode", "-w", str(ws), "--sae", "n32-k4-batchtopk"]) == 0
    workspace = Workspace.open(ws)
    codes = stages.codes(workspace, "n32-k4-batchtopk")
    assert codes.indices.shape == (72, 16)  # c = min(n, 4k) slots, padded with zeros
    active = codes.values > 0
    assert np.all(active[:, :-1] | ~active[:, 1:])  # the padding comes after the active slots
    assert active.sum(axis=1).min() < active.sum(axis=1).max()
    stats = read_parquet(workspace.sae_folder("n32-k4-batchtopk").feature_stats_path)
    assert sum(stats.column("density").to_pylist()) * 72 == pytest.approx(active.sum())
    capsys.readouterr()
    assert main(["search", "exoplanet transit orbit", "-w", str(ws), "--sae",
                 "n32-k4-batchtopk", "-k", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [hit["categories"][0] for hit in result["hits"]].count("astro-ph.EP") >= 4
    contributions = [c for hit in result["hits"] for c in hit["explanation"]]
    assert contributions and all(c["hit_activation"] > 0 for c in contributions)
    assert main(["train", "-w", str(ws), "--n", "32", "--k", "4", "--arch", "jumprelu"]) == 2
    assert "use one of topk, batchtopk, matryoshka" in capsys.readouterr().err


def test_ivfpq_index_is_built_ahead_into_the_workspace_and_used_by_search(built, capsys):
    _, ws = built
    workspace = Workspace.open(ws)
    assert main(["index", "-w", str(ws), "--kind", "ivfpq"]) == 0
    saved = workspace.index_path("ivfpq")
    assert saved.exists() and saved.with_suffix(".json").exists()
    assert not workspace.index_build("ivfpq").directory.exists()  # parts merged, then removed
    runs = {}
    for index in ("exact", "ivfpq"):
        capsys.readouterr()
        assert main(["search", "galaxy halo", "-w", str(ws), "-k", "5", "--json",
                     "--index", index]) == 0
        runs[index] = [round(hit["score"], 5)
                       for hit in json.loads(capsys.readouterr().out)["hits"]]
    assert runs["ivfpq"] == runs["exact"]  # 72 rows: every list probed, re-ranked exactly
    # A build folder left by other embeddings is discarded, not merged into the new index.
    stale = workspace.index_build("ivfpq")
    stale.directory.mkdir(parents=True)
    (stale.settings_path).write_text('{"built_from": "another corpus"}')
    stale.part_path(0).write_bytes(b"not an index")
    workspace.record("embeddings", {**workspace.stage("embeddings"), "test_rerun": 2})
    assert stages.build_index(workspace, "ivfpq").rows == 72
    assert not stale.directory.exists()
    assert main(["index", "-w", str(ws), "--kind", "flat"]) == 2
