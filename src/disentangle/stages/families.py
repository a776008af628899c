"""The families stage: build an SAE's feature families from its codes and labels, store them
beside the SAE, read them back.

Outputs (paths named by :class:`~disentangle.workspace.SAEFolder`): a table with one row per
family (members, depth, iteration, label, scores); the same rows as JSON with member labels
and how the families were built; the first (full) density-directed tree, labelled, as
GraphML for Gephi.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from disentangle.codes import SparseCodes
from disentangle.errors import DisentangleError
from disentangle.families import (
    DEFAULT_THRESHOLD,
    Family,
    Nesting,
    build_families,
    clean_mask,
    edge_weights,
    families_from_table,
    families_table,
    family_activations,
    label_families,
    write_tree_graphml,
)
from disentangle.interpret import OfflineBackend
from disentangle.interpret.phrases import LabelCoverage, PhraseIndex
from disentangle.io import write_json, write_parquet
from disentangle.stages.family_rules import MIN_MEMBER_COVERAGE, FamilyRules
from disentangle.stages.family_scoring import score_families
from disentangle.stages.readers import codes as stored_codes
from disentangle.stages.readers import corpus_texts, query_embedder
from disentangle.workspace import Workspace

Variant = Literal["count", "activation"]
WEIGHTING = {"count": "binary", "activation": "activation"}
MAX_DENSITY = 0.2
"""Near-ubiquitous features never enter families (the paper's family code)."""


@dataclass
class FamilyBuildReport:
    """What ``build`` did, for the CLI to print."""

    name: str
    table: pa.Table
    candidates: int
    """Features that entered the family graph."""
    notes: list[str] = field(default_factory=list)
    """Caveats a user must see (no interpretation yet, scoring skipped, …)."""
    paths: list[Path] = field(default_factory=list)


def label_list(workspace: Workspace, name: str, n_features: int) -> list[str] | None:
    """Labels indexed by feature id (``#id`` where a feature has none), or None."""
    labels = workspace.sae_folder(name).labels()
    if labels is None:
        return None
    return [labels.get(i) or f"#{i}" for i in range(n_features)]


def _density(workspace: Workspace, name: str) -> np.ndarray:
    return workspace.sae_folder(name).feature_stats(["feature", "density"]) \
        .column("density").to_numpy()


def family_rules(workspace: Workspace, name: str, codes: SparseCodes) -> FamilyRules | None:
    """The root and member rules of :mod:`~disentangle.stages.family_rules` (None before
    ``interpret``: unlabelled families keep the paper's tree as it is)."""
    folder = workspace.sae_folder(name)
    if not folder.has_features:
        return None
    table = folder.features()
    columns = table.column_names
    labels = [""] * codes.n_features
    mixed = [True] * codes.n_features
    descriptions: dict[int, list[str]] = {}
    for row in table.select([c for c in ("feature", "label", "keywords", "mixed")
                             if c in columns]).to_pylist():
        feature = int(row["feature"])
        labels[feature], mixed[feature] = row["label"] or "", bool(row.get("mixed", False))
        descriptions[feature] = [] if mixed[feature] else [labels[feature],
                                                           *(row.get("keywords") or [])]
    stats = folder.feature_stats(["feature", "top_rows"])
    top_rows = dict(zip(stats.column("feature").to_pylist(), stats.column("top_rows").to_pylist(),
                        strict=True))
    index = PhraseIndex(corpus_texts(workspace))
    coverage = LabelCoverage(index, descriptions, top_rows, min_share=MIN_MEMBER_COVERAGE)
    return FamilyRules(labels, mixed, index, Nesting(codes, workspace.embeddings(), top_rows),
                       coverage)


def _candidates(workspace: Workspace, name: str, density: np.ndarray,
                all_features: bool) -> tuple[np.ndarray, str | None]:
    """Features allowed into families, and a note when the restriction is not the paper's."""
    live = clean_mask(density, max_density=MAX_DENSITY) & (density > 0)
    folder = workspace.sae_folder(name)
    if all_features:
        return live, (f"--all-features: families use all {int(live.sum())} live features with "
                      f"density < {MAX_DENSITY}, interpretable or not")
    if not folder.has_features:
        return live, (f"no interpretation of {name} yet, so families are built on all "
                      f"{int(live.sum())} live features with density < {MAX_DENSITY} and are "
                      "unlabelled; run `disentangle interpret --workspace "
                      f"{workspace.root} --sae {name}` first for interpretable, labelled families")
    table = folder.features(["feature", "interpretable"])
    interpretable = np.zeros(len(density), bool)
    features = table.column("feature").to_numpy()
    interpretable[features[table.column("interpretable").to_numpy(zero_copy_only=False)]] = True
    return interpretable & live, None


def build(
    workspace: Workspace,
    name: str | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    iterations: int = 3,
    variant: Variant = "count",
    all_features: bool = False,
    score: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> FamilyBuildReport:
    """Build, label, score and store the families of an SAE (see the module docstring)."""
    if variant not in WEIGHTING:
        raise DisentangleError(f"unknown variant {variant!r}; use count or activation")
    name = workspace.resolve_sae(name)
    codes = stored_codes(workspace, name)
    density = _density(workspace, name)
    candidates, note = _candidates(workspace, name, density, all_features)
    notes = [note] if note else []
    weights = edge_weights(codes, WEIGHTING[variant], threshold)  # type: ignore[arg-type]
    rules = family_rules(workspace, name, codes)
    built = build_families(weights, density, candidates, iterations=iterations,
                           belongs=rules.belongs if rules is not None else None,
                           is_root=rules.is_root if rules is not None else None,
                           settle=rules.settle if rules is not None else None)
    families = built.families
    labels = label_list(workspace, name, codes.n_features)
    scores: dict[str, list[float]] = {}
    if labels is not None:
        label_families(families, labels)
        if score:
            scores = _score(workspace, name, codes, families, on_progress)
        else:
            notes.append("scoring skipped (--no-score)")
    else:
        for family in families:
            family.label = f"#{family.parent}"
        if families:
            notes.append("families are not scored: scoring needs labels")
    table = families_table(families, scores)
    folder = workspace.sae_folder(name)
    paths = [folder.families_path, folder.families_json_path, folder.families_graphml_path]
    write_parquet(paths[0], table)
    write_json(paths[1], {
        "sae": name, "variant": variant, "threshold": threshold, "iterations": iterations,
        "candidates": int(candidates.sum()), "restriction": note or "interpretable features",
        "families": [_json_row(row, labels) for row in table.to_pylist()]})
    write_tree_graphml(paths[2], built.trees[0], density, labels)
    return FamilyBuildReport(name, table, int(candidates.sum()), notes, paths)


def _score(workspace: Workspace, name: str, codes: SparseCodes, families: list[Family],
           on_progress: Callable[[int, int], None] | None) -> dict[str, list[float]]:
    """Offline scoring of family labels (label-embedding cosine on held-out documents)."""
    texts = corpus_texts(workspace)
    embeddings = workspace.embeddings()
    backend = OfflineBackend(texts, embeddings, query_embedder(workspace))
    done = 0

    def advance(batch: int) -> None:
        nonlocal done
        done += batch
        if on_progress is not None:
            on_progress(done, len(families))

    return score_families(texts, codes, embeddings, families, backend,
                          workspace.sae_folder(name).family_scoring_batches, on_batch=advance)


def _json_row(row: dict[str, Any], labels: list[str] | None) -> dict[str, Any]:
    if labels is not None:
        row["parent_label"] = labels[row["parent"]]
        row["children_labels"] = [labels[c] for c in row["children"]]
    return row


def summary(table: pa.Table) -> dict[str, Any]:
    """Count, median size, depth and iteration distributions, mean scores."""
    sizes = table.column("size").to_numpy()
    pearson = table.column("pearson").to_numpy(zero_copy_only=False).astype(float)
    return {
        "families": table.num_rows,
        "median_size": float(np.median(sizes)) if len(sizes) else 0.0,
        "max_size": int(sizes.max()) if len(sizes) else 0,
        "depths": dict(sorted(Counter(table.column("depth").to_pylist()).items())),
        "iterations": dict(sorted(Counter(table.column("iteration").to_pylist()).items())),
        "mean_pearson": float(np.nanmean(pearson)) if np.isfinite(pearson).any() else None,
    }


def load(workspace: Workspace, name: str | None = None) -> tuple[str, pa.Table]:
    """The stored families of an SAE, or a clear error saying how to build them."""
    folder = workspace.sae(name)
    return folder.name, folder.families()


@dataclass
class FamilyView:
    """One family with everything ``families show`` prints."""

    family: Family
    row: dict[str, Any]
    parent_label: str
    children: list[tuple[int, str, float, bool]]
    """(feature, label, density, is a direct child), in the family's order (best-nested first)."""
    top_titles: list[str]


def describe(workspace: Workspace, family_id: int, name: str | None = None,
             top: int = 10) -> FamilyView:
    """A family's members with labels and densities, and its top documents by union
    activation (summed member activations)."""
    name, table = load(workspace, name)
    ids = table.column("family").to_pylist()
    if family_id not in ids:
        raise DisentangleError(f"no family {family_id} in {name} (ids 0–{len(ids) - 1}); "
                               "see `disentangle families list`")
    row = table.slice(ids.index(family_id), 1).to_pylist()[0]
    family = families_from_table(table.slice(ids.index(family_id), 1))[0]
    codes = stored_codes(workspace, name)
    density = _density(workspace, name)
    labels = label_list(workspace, name, codes.n_features) or [
        f"#{i}" for i in range(codes.n_features)]
    direct = set(family.direct_children)
    children = [(c, labels[c], float(density[c]), c in direct) for c in family.children]
    activation = family_activations(codes, [family]).toarray().ravel()
    order = np.argsort(-activation, kind="stable")[:top]
    order = order[activation[order] > 0]
    titles = workspace.corpus().column("title").take(pa.array(order, pa.int64())).to_pylist()
    return FamilyView(family, row, labels[family.parent], children, titles)
