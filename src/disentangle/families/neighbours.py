"""A feature's neighbourhood: features that write similar directions, features that fire in
the same documents, how it splits in a wider SAE, and how families nest. The web app's
feature and family pages show these; any caller can compute them from codes and weights."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from disentangle.codes import SparseCodes
from disentangle.families.extract import Family
from disentangle.families.matching import best_match, splits


def decoder_neighbours(unit_decoder: np.ndarray, feature: int, nearest: int = 8,
                       farthest: int = 5) -> tuple[list[tuple[int, float]],
                                                   list[tuple[int, float]]]:
    """(nearest, farthest) features by decoder cosine, as (feature, cosine): what a feature
    writes into the embedding, independent of which documents happen to activate it."""
    cosine = unit_decoder @ unit_decoder[feature]
    cosine[feature] = np.nan
    near = np.argsort(-np.nan_to_num(cosine, nan=-np.inf))[:nearest]
    far = np.argsort(np.nan_to_num(cosine, nan=np.inf))[:farthest]
    return ([(int(f), float(cosine[f])) for f in near],
            [(int(f), float(cosine[f])) for f in far])


def cooccurring_features(codes: SparseCodes, rows: np.ndarray, density: np.ndarray,
                         feature: int, count: int = 8) -> list[tuple[int, int, float]]:
    """Features most often active in the documents ``rows`` where ``feature`` fires, as
    (feature, documents together, cosine of the activity vectors); the cosine ranks them so
    that merely dense features do not top every list."""
    if len(rows) == 0:
        return []
    others = codes.indices[rows][codes.values[rows] > 0]
    together = np.bincount(others, minlength=codes.n_features).astype(np.float64)
    together[feature] = 0
    active = density * len(codes)
    score = together / np.sqrt(np.maximum(active, 1) * len(rows))
    best = [int(f) for f in np.argsort(-score, kind="stable")[:count] if together[f] > 0]
    return [(f, int(together[f]), float(score[f])) for f in best]


def split_map(larger_unit_decoder: np.ndarray,
              unit_decoder: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """For each feature of an SAE, the features of a wider SAE that best match it (what it
    splits into), and each wider feature's cosine to its match."""
    match, cosine = best_match(larger_unit_decoder, unit_decoder)
    return splits(match, len(unit_decoder)), cosine


def families_by_member(families: Sequence[Family]) -> dict[int, list[int]]:
    """Feature → the ids of the families it belongs to."""
    holders: dict[int, list[int]] = {}
    for family in families:
        for member in family.members:
            holders.setdefault(member, []).append(family.id)
    return holders


def nest_families(families: Sequence[Family]) -> dict[int, int | None]:
    """Each family's smallest strictly larger family (same iteration) containing its parent
    feature: the tree a user browses families by."""
    members = {f.id: set(f.children) for f in families}
    parent: dict[int, int | None] = {}
    for family in families:
        holders = [other for other in families
                   if other.id != family.id and other.iteration == family.iteration
                   and other.size > family.size and family.parent in members[other.id]]
        parent[family.id] = min(holders, key=lambda o: (o.size, o.id)).id if holders else None
    return parent


def top_family_of(families: Sequence[Family],
                  nesting: dict[int, int | None]) -> dict[int, int]:
    """Feature → the outermost family holding it (the first found, for features in several),
    to colour a map by family."""
    by_id = {f.id: f for f in families}
    top_of: dict[int, int] = {}
    for family in nesting:
        top = family
        while nesting.get(top) is not None:
            top = nesting[top]  # type: ignore[assignment]
        for member in by_id[family].members:
            top_of.setdefault(member, top)
    return top_of


def families_by_overlap(activations: dict[int, float], families_of: dict[int, list[int]],
                        limit: int) -> dict[int, float]:
    """The ``limit`` families holding most of a code's activation (feature → activation), as
    family → summed activation of its members, strongest first."""
    weight: dict[int, float] = {}
    for feature, value in activations.items():
        for family in families_of.get(feature, ()):
            weight[family] = weight.get(family, 0.0) + value
    return {f: weight[f] for f in sorted(weight, key=lambda f: (-weight[f], f))[:limit]}


def direct_children(families: Iterable[Family], feature: int) -> list[int]:
    """Direct children of ``feature`` in the family it is the parent of (none if none)."""
    return next((list(f.direct_children) for f in families if f.parent == feature), [])


def family_forest(families: Sequence[Family],
                  nesting: dict[int, int | None]) -> list[tuple[int, list]]:
    """Families as a forest of (family id, children), largest first at every level."""
    size = {f.id: f.size for f in families}
    children: dict[int | None, list[int]] = {}
    for family, parent in nesting.items():
        children.setdefault(parent, []).append(family)

    def grow(parent: int | None) -> list[tuple[int, list]]:
        return [(f, grow(f)) for f in sorted(children.get(parent, []), key=lambda f: -size[f])]

    return grow(None)


class WiderSplits:
    """How each feature of an SAE splits in wider SAEs of the same embeddings: per wider
    SAE, its features whose best match is this feature, by cosine."""

    def __init__(self, unit_decoder: np.ndarray,
                 wider: dict[str, tuple[np.ndarray, dict[int, str]]]) -> None:
        self.wider = wider
        self.maps = {name: split_map(decoder, unit_decoder)
                     for name, (decoder, _) in wider.items()}

    def of(self, feature: int) -> list[dict[str, Any]]:
        """Per wider SAE (narrowest first): its size and the matched features with labels."""
        out = []
        for name, (groups, cosine) in self.maps.items():
            decoder, labels = self.wider[name]
            members = sorted(groups[feature], key=lambda f: -cosine[f])
            out.append({"sae": name, "n_features": int(decoder.shape[0]),
                        "features": [{"feature": f, "label": labels.get(f),
                                      "cosine": float(cosine[f])} for f in members]})
        return sorted(out, key=lambda s: s["n_features"])
