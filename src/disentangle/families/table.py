"""Families as a parquet-ready table and the directed tree as GraphML, for the CLI to write."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np
import pyarrow as pa

from disentangle.families.extract import Family
from disentangle.families.tree import FeatureTree
from disentangle.io import atomic_path

SCORE_COLUMNS = ("pearson", "f1")
"""Score columns every families table has (null until the family is scored)."""


def families_table(
    families: Sequence[Family], scores: Mapping[str, Sequence[float]] | None = None
) -> pa.Table:
    """One row per family; ``label`` from ``Family.label``; ``scores`` become float columns
    (``pearson`` and ``f1`` are always present, null until given)."""
    scores = dict(scores or {})
    missing = [None] * len(families)
    for name in SCORE_COLUMNS:
        scores.setdefault(name, missing)
    return pa.table({
        "family": pa.array([f.id for f in families], pa.int32()),
        "parent": pa.array([f.parent for f in families], pa.int32()),
        "children": pa.array([f.children for f in families], pa.list_(pa.int32())),
        "direct_children": pa.array([f.direct_children for f in families],
                                    pa.list_(pa.int32())),
        "iteration": pa.array([f.iteration for f in families], pa.int16()),
        "depth": pa.array([f.depth for f in families], pa.int16()),
        "size": pa.array([f.size for f in families], pa.int32()),
        "density": pa.array([f.density for f in families], pa.float64()),
        "label": pa.array([f.label for f in families], pa.string()),
        **{name: pa.array(list(values), pa.float64()) for name, values in scores.items()},
    })


def families_from_table(table: pa.Table) -> list[Family]:
    """Inverse of ``families_table`` (scores stay in the table)."""
    rows = table.to_pylist()
    return [Family(id=r["family"], parent=r["parent"], children=r["children"],
                   direct_children=r["direct_children"], depth=r["depth"],
                   iteration=r["iteration"], density=r["density"], label=r["label"])
            for r in rows]


def write_tree_graphml(
    path: str | os.PathLike[str],
    tree: FeatureTree,
    density: np.ndarray,
    labels: Sequence[str] | None = None,
) -> None:
    """Directed tree (denser → sparser) with node density, log10 density and, if given, label
    (``labels`` is indexed by global feature id); viewable in Gephi/Cytoscape."""
    graph = tree.graph()
    for node in graph.nodes:
        value = float(density[node])
        graph.nodes[node]["density"] = value
        graph.nodes[node]["log10_density"] = float(np.log10(value)) if value > 0 else -np.inf
        if labels is not None:
            graph.nodes[node]["label"] = str(labels[node])
    with atomic_path(path) as tmp:
        nx.write_graphml(graph, tmp)
