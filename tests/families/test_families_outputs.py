"""Table round trip, GraphML, family activation, labels and figures."""

from __future__ import annotations

import networkx as nx
import numpy as np

from disentangle.families import (
    Family,
    families_from_table,
    families_table,
    family_activations,
    label_families,
    label_family,
    maximum_spanning_tree,
    split_chain,
    write_tree_graphml,
)
from disentangle.families.plots import (
    plot_category_prevalence,
    plot_match_histograms,
    plot_split_tree,
    plot_trends,
)
from disentangle.io import read_parquet, write_parquet


def test_table_round_trip(tmp_path, planted):
    family = Family(0, 1, [7, 8, 9, 10], [7, 8, 9, 10], 0, 0, 0.2, label="galaxies")
    table = families_table([family], {"pearson": [0.9], "f1": [0.8]})
    write_parquet(tmp_path / "families.parquet", table)
    back = read_parquet(tmp_path / "families.parquet")
    assert families_from_table(back) == [family]
    assert back.column("size").to_pylist() == [4] and back.column("f1").to_pylist() == [0.8]
    assert families_table([family]).column("pearson").null_count == 1


def test_graphml_has_labels_and_density(tmp_path):
    weights = np.zeros((4, 4))
    weights[0, 1] = weights[0, 2] = weights[0, 3] = 0.5
    density = np.array([0.4, 0.1, 0.1, 0.05])
    tree = maximum_spanning_tree(weights, density)
    write_tree_graphml(tmp_path / "tree.graphml", tree, density, labels=list("abcd"))
    graph = nx.read_graphml(tmp_path / "tree.graphml")
    assert graph.is_directed() and graph.number_of_edges() == 3
    assert graph.nodes["0"]["label"] == "a" and graph.nodes["3"]["density"] == 0.05
    assert set(graph.successors("0")) == {"1", "2", "3"}


def test_family_active_when_any_member_is(planted):
    codes, _ = planted
    families = [Family(0, 0, [3, 4, 5, 6], [3, 4, 5, 6], 0, 0, 0.1),
                Family(1, 7, [8, 9, 10], [8, 9, 10], 0, 0, 0.1)]
    active = family_activations(codes, families).toarray() > 0
    members = [set(f.members) for f in families]
    for row in range(len(codes)):
        present = set(codes.indices[row][codes.values[row] > 0].tolist())
        assert active[row].tolist() == [bool(present & m) for m in members]


def test_labels_offline_and_pluggable():
    assert label_family("dark matter", ["dark matter halos", "dark matter annihilation",
                                        "warm dark matter"]) == "dark matter"
    assert label_family("galaxies", ["quasars", "lensing", "dust"]) == "galaxies"
    family = Family(0, 0, [1, 2], [1, 2], 0, 0, 0.1)
    names = label_families([family], ["p", "c1", "c2"], lambda p, cs: f"{p}:{len(cs)}")
    assert names == ["p:2"] and family.label == "p:2"


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    plot_match_histograms({"a→b": rng.random(50)}, tmp_path / "hist.png")
    weights = [rng.normal(size=(n, 8)) for n in (4, 8, 16)]
    plot_split_tree(split_chain(weights), 0, tmp_path / "split.png", names=["S", "M", "L"])
    plot_trends(np.arange(2000, 2005), rng.random((5, 3)), {"up": [0], "down": [2]},
                tmp_path / "trend.png", labels=["a", "b", "c"])
    plot_category_prevalence(rng.random((4, 3)), list("wxyz"), [0, 1], tmp_path / "cat.png")
    for name in ("hist.png", "split.png", "trend.png", "cat.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_contrastive_parts_never_name_a_family():
    """Labels of the form "A (not B)" describe their feature by A only."""
    from disentangle.families.labels import label_family

    name = label_family("galaxy clusters (not simulations)",
                        ["galaxy clusters (not lensing)", "cluster galaxy mergers (not stars)",
                         "radio relics (not simulations)"])
    assert "not" not in name.split() and "simulations" not in name
    assert "galaxy" in name and "clusters" in name
    assert label_family("dark matter (not redshift)", ["a", "b"]) == "dark matter"
