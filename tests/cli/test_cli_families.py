"""``families build|list|show``, ``compare`` and ``trends`` end to end on a synthetic workspace.

The workspace is built directly (no embedder, tiny SAEs, planted codes), so every command
runs in well under a second and the expected families are known exactly.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from disentangle import stages
from disentangle.cli.main import main
from disentangle.codes import feature_stats
from disentangle.corpus import corpus_hash
from disentangle.io import read_parquet, save_npy, write_parquet
from disentangle.sae.model import SAEConfig
from disentangle.sae.trainer import TrainConfig
from disentangle.workspace import Workspace
from tests.families.planted import NOISE, PLANTED, planted_codes

N_FEATURES = 48
RISING = 18
"""A noise feature whose documents all come from the last year."""
UNCLEAN = 11
"""A planted child marked unclean: it must stay out of every family."""


SUBJECTS = {0: "galaxies", 1: "planets", 2: "networks"}
NAMES = {p: f"topic{p} {SUBJECTS[p]}" for p in PLANTED} | {
    c: f"topic{p} detail{c}" for p, cs in PLANTED.items() for c in cs}
"""Labels: every planted root's names its subject, and its members' documents say it too."""


def _titles(codes) -> list[str]:
    return [f"doc n{i} " + " ".join(f"f{f}" for f, v in zip(ix, vals, strict=True) if v > 0)
            + "".join(f" | {NAMES[f]}" for f, v in zip(ix, vals, strict=True)
                      if v > 0 and f in NAMES)
            for i, (ix, vals) in enumerate(zip(codes.indices, codes.values, strict=True))]


def make_workspace(root, *, codes_for: list[str], labels: bool = True) -> Workspace:
    """Corpus, 8-d embeddings, SAEs (n16/n32/n48/n64 + a re-seeded n32 as ``n32b``)."""
    codes = planted_codes(PLANTED, N_FEATURES, NOISE, docs_per_leaf=60)
    active = [set(ix[v > 0].tolist()) for ix, v in zip(codes.indices, codes.values, strict=True)]
    years = [2014 if RISING in row else 2010 + i % 5 for i, row in enumerate(active)]
    table = pa.table({
        "id": [f"d{i}" for i in range(len(codes))], "title": _titles(codes),
        "abstract": ["text"] * len(codes),
        "categories": [["cs.LG"] if 0 in row else ["astro-ph"] for row in active],
        "year": pa.array(years, pa.int32())})
    ws = Workspace.create(root)
    write_parquet(ws.corpus_path, table)
    ws.record("corpus", {"corpus_hash": corpus_hash(table), "documents": len(codes)})
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(codes), 8)).astype(np.float32)
    for row, features in enumerate(active):  # a family's documents are alike in meaning
        for parent in features & set(PLANTED):
            vectors[row, parent] += 4.0
    save_npy(ws.embeddings_path, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    ws.record("embeddings", {"identity": {"model": "toy", "dim": 8, "normalized": True},
                             "corpus_hash": ws.corpus_hash(), "spec": {"kind": "toy"}})
    for name, n, seed in (("n16", 16, 0), ("n32", 32, 0), ("n32b", 32, 1), ("n48", 48, 0),
                          ("n64", 64, 0)):
        stages.train(ws, SAEConfig(d=8, n=n, k=4),
                     TrainConfig(epochs=1, batch_size=512, seed=seed), name=name)
    for name in codes_for:
        codes.save(ws.sae_folder(name))
        write_parquet(ws.sae_folder(name).feature_stats_path, feature_stats(codes))
        ws.record(f"codes/{name}", {"corpus_hash": ws.corpus_hash(), "model_hash": "-"})
    if labels:
        density = feature_stats(codes).column("density").to_numpy()
        write_parquet(ws.sae_folder("n48").features_path, pa.table({
            "feature": pa.array(range(N_FEATURES), pa.int32()),
            "label": [NAMES.get(f, f"noise{f}") for f in range(N_FEATURES)],
            "density": density,
            "interpretable": [f != UNCLEAN for f in range(N_FEATURES)],
            "clean": [f != UNCLEAN for f in range(N_FEATURES)]}))
    return ws


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    ws = make_workspace(tmp_path_factory.mktemp("fam") / "ws", codes_for=["n48"])
    assert main(["families", "build", "-w", str(ws.root), "--sae", "n48", "--no-score"]) == 0
    return ws


def test_build_writes_the_planted_families(labelled):
    table = read_parquet(labelled.sae_folder("n48").families_path)
    found = {row["parent"]: set(row["children"]) for row in table.to_pylist()}
    expected = {p: set(cs) - {UNCLEAN} for p, cs in PLANTED.items()}
    assert found == expected
    assert sorted(table.column("label").to_pylist()) == ["topic0", "topic1", "topic2"]
    meta = json.loads((labelled.sae_folder("n48").families_json_path).read_text())
    assert meta["candidates"] == N_FEATURES - 1
    assert meta["families"][0]["children_labels"][0].startswith("topic")
    assert (labelled.sae_folder("n48").families_graphml_path).read_text().count("<node ") == 47


def test_list_and_show(labelled, capsys):
    capsys.readouterr()
    assert main(["families", "list", "-w", str(labelled.root), "--sae", "n48"]) == 0
    out = capsys.readouterr().err
    assert out.index("topic2") < min(out.index("topic1"), out.index("topic0"))  # largest first
    family = read_parquet(labelled.sae_folder("n48").families_path).to_pylist()[0]
    assert main(["families", "show", str(family["family"]), "-w", str(labelled.root),
                 "--sae", "n48"]) == 0
    out = capsys.readouterr().err
    assert f"#{family['parent']} {NAMES[family['parent']]}" in out
    titles = [line for line in out.splitlines() if line.strip().startswith("- doc")]
    assert len(titles) == 10 and all(f"f{family['parent']}" in t.split() for t in titles)
    assert main(["families", "show", "99", "-w", str(labelled.root), "--sae", "n48"]) == 2


def test_trends_by_year_and_category(labelled, capsys):
    capsys.readouterr()
    assert main(["trends", "-w", str(labelled.root), "--sae", "n48"]) == 0
    out = capsys.readouterr().err
    assert out.startswith("rising features")
    first = next(line.strip() for line in out.splitlines() if line.strip().startswith("#"))
    assert first.startswith(f"#{RISING} noise{RISING}")
    assert (labelled.sae_folder("n48").trend_paths("features-by-year")[2]).exists()
    assert main(["trends", "-w", str(labelled.root), "--sae", "n48", "--families"]) == 0
    assert main(["trends", "-w", str(labelled.root), "--sae", "n48", "--by", "category"]) == 0
    cs_line = next(line for line in capsys.readouterr().err.splitlines()
                   if line.startswith("cs.LG"))
    assert "topic0" in cs_line  # family 0's documents are the cs.LG ones


def test_unlabelled_build_says_why(tmp_path, capsys):
    ws = make_workspace(tmp_path / "ws", codes_for=["n48"], labels=False)
    capsys.readouterr()
    assert main(["families", "build", "-w", str(ws.root), "--sae", "n48"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "no interpretation" in err and "disentangle interpret" in err
    table = read_parquet(ws.sae_folder("n48").families_path)
    assert {row["parent"] for row in table.to_pylist()} == set(PLANTED)
    assert table.column("pearson").null_count == table.num_rows


def test_errors_name_the_fix(tmp_path, capsys):
    ws = make_workspace(tmp_path / "ws", codes_for=[], labels=False)
    capsys.readouterr()
    assert main(["families", "build", "-w", str(ws.root), "--sae", "n48"]) == 2
    err = " ".join(capsys.readouterr().err.split())  # one line, wrapped by the console
    assert err.startswith("error:") and err.count("error:") == 1
    assert "disentangle encode" in err and "Traceback" not in err
    assert main(["families", "list", "-w", str(ws.root), "--sae", "n48"]) == 2
    assert "families build" in capsys.readouterr().err
    assert main(["compare", "n16", "-w", str(ws.root)]) == 2


def test_compare_sizes_and_seeds(tmp_path, capsys):
    ws = make_workspace(tmp_path / "ws", codes_for=[], labels=False)
    capsys.readouterr()
    assert main(["compare", "n64", "n16", "n32", "n32b", "-w", str(ws.root)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "n16 → n32" in err and "n32 → n64" in err and "re-seed n32 ↔ n32b" in err
    # Sizes get distinct initialisations (the seed is mixed with the shape), so no warning.
    assert "share their random initialisation" not in err
    out_dir = ws.root / "compare" / "n16+n32+n32b+n64"
    result = json.loads((out_dir / "compare.json").read_text())
    assert [(p["small"], p["large"], p["features"]) for p in result["pairs"]] == [
        ("n16", "n32", 32), ("n32", "n64", 64)]
    assert result["chain"]["saes"] == ["n16", "n32", "n64"]
    assert 0 <= result["chain"]["mean_consistency"] <= 1
    assert [(s["a"], s["b"]) for s in result["stability"]] == [("n32", "n32b")]
    assert result["pairs"][0]["same_index"] < 0.5
    for name in ("match_cosines.png", "split_tree.png"):
        assert (out_dir / name).read_bytes()[:4] == b"\x89PNG"
