"""Read-only data behind the web app: one workspace, one SAE, loaded once.

Everything a page needs is either precomputed at start-up (unit decoder rows, per-feature
hints) or cached on first use (the 2-D map, matches against larger SAEs), so a request is a
handful of array operations. Nothing here writes to the workspace. Labels, families and larger
SAEs are optional: each is ``None``/empty until the stage that makes it has run, and every
answer says so instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle import stages
from disentangle.embed.memo import MemoizedEmbedder
from disentangle.errors import DisentangleError
from disentangle.families import Family
from disentangle.families.matching import unit_rows
from disentangle.families.neighbours import (
    cooccurring_features,
    decoder_neighbours,
    families_by_overlap,
    nest_families,
    split_map,
)
from disentangle.search import DEFAULT_BLEND, Searcher, parse_id
from disentangle.search.request import (
    MAX_BLEND,
    MAX_EDIT_VALUE,
    MAX_EDITS,
    MAX_FAMILY_EDITS,
    MAX_K,
    MAX_QUERY_CHARS,
    SearchRequest,
)
from disentangle.search.steer import MODES
from disentangle.workspace import Workspace

SNIPPET_CHARS = 320
FAMILY_SLIDERS = 6
HISTOGRAM_BINS = 24
NEIGHBOURS = 8


class AppService:
    """Answers every API question for one SAE of one workspace."""

    def __init__(self, searcher: Searcher, sae_name: str, scores: pa.Table | None = None,
                 families: Sequence[Family] = (),
                 larger: dict[str, tuple[np.ndarray, dict[int, str]]] | None = None,
                 workspace: Workspace | None = None) -> None:
        self.searcher = searcher
        self.workspace = workspace
        self.sae_name = sae_name
        self.n_features = searcher.sae.config.n
        self.decoder = unit_rows(searcher.decoder)
        self.scores = _scores_by_feature(scores)
        self.keywords = _keywords_by_feature(scores)
        self.families = {f.id: f for f in families}
        self.larger = larger or {}
        self._family_of: dict[int, list[int]] = {}
        for family in families:
            for member in family.members:
                self._family_of.setdefault(member, []).append(family.id)
        self.family_parent = nest_families(families)

    @classmethod
    def open(cls, root: str | Path, sae: str | None = None) -> AppService:
        """Load a workspace read-only; labels, families and larger SAEs when they exist."""
        workspace = Workspace.open(root)
        folder = workspace.sae(sae)
        searcher = stages.searcher(workspace, folder.name,
                                   MemoizedEmbedder(stages.query_embedder(workspace)))
        scores = folder.features() if folder.has_features else None
        return cls(searcher, folder.name, scores, stages.families(workspace, folder.name),
                   stages.wider_saes(workspace, folder.name), workspace)

    def warm(self) -> None:
        """Compute the per-feature titles and the map and load the query embedder now, so no
        request pays for them (and concurrent first requests do not load it twice)."""
        self._map  # noqa: B018 -- cached properties; reading them computes them
        self._split_maps  # noqa: B018
        self.searcher.embedder.embed(["warm-up query"])

    # -- small shared pieces -----------------------------------------------------------------

    @cached_property
    def hints(self) -> list[list[str]]:
        """Top-3 document titles per feature: what names an unlabelled feature."""
        index = self.searcher.features
        tops = [index.top_rows(f, 3) for f in range(self.n_features)]
        titles = self.searcher.corpus.column("title").take(
            pa.array(np.concatenate(tops).astype(np.int64))).to_pylist()
        bounds = np.cumsum([0, *(len(t) for t in tops)])
        return [titles[bounds[f]:bounds[f + 1]] for f in range(self.n_features)]

    def label(self, feature: int) -> str | None:
        return self.searcher.resolver.label(feature)

    def name(self, feature: int) -> dict[str, Any]:
        """What the UI prints for a feature: its label, else its strongest title."""
        hints = self.hints[feature]
        return {"feature": feature, "label": self.label(feature),
                "keywords": self.keywords.get(feature, []),
                "hint": hints[0] if hints else None,
                "density": float(self.searcher.features.density[feature])}

    def check_feature(self, feature: int) -> int:
        if not 0 <= feature < self.n_features:
            raise KeyError(f"feature {feature} does not exist; ids run from 0 to "
                           f"{self.n_features - 1}")
        return feature

    def family_summary(self, family_id: int) -> dict[str, Any]:
        family = self.families[family_id]
        return {"family": family.id, "parent": family.parent, "label": family.label,
                "size": family.size, "depth": family.depth, "iteration": family.iteration,
                "parent_name": self.name(family.parent)}

    def info(self) -> dict[str, Any]:
        searcher = self.searcher
        return {"sae": self.sae_name, "n_features": self.n_features,
                "k": searcher.sae.config.k, "documents": searcher.corpus.num_rows,
                "has_labels": bool(searcher.resolver.labels), "has_scores": bool(self.scores),
                "has_families": bool(self.families), "larger_saes": sorted(self.larger),
                "modes": list(MODES), "default_blend": DEFAULT_BLEND,
                "limits": {"query_chars": MAX_QUERY_CHARS, "k": MAX_K, "edits": MAX_EDITS,
                           "family_edits": MAX_FAMILY_EDITS, "edit_value": MAX_EDIT_VALUE,
                           "blend": MAX_BLEND}}

    # -- search ------------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> dict[str, Any]:
        """A steered search plus what the page draws: snippets, sliders, family sliders."""
        request.validate()
        searcher = self.searcher
        result = searcher.search(request.query, request.parsed_edits(), k=request.k,
                                 filters=request.filters(), mode=request.mode,  # type: ignore[arg-type]
                                 blend=request.blend)
        data = result.to_dict()
        abstracts = searcher.corpus.column("abstract").take(
            pa.array([h.row for h in result.hits], pa.int64())).to_pylist()
        for hit, abstract in zip(data["hits"], abstracts, strict=True):
            hit["snippet"] = _snippet(abstract or "")
        original = {f.feature: f.activation for f in result.query_features}
        edited = {e.feature: e for e in result.edits}
        shown = [*original, *(f for f in edited if f not in original)]
        data["sliders"] = [
            {**self.name(f), "original": original.get(f, 0.0),
             "value": edited[f].apply(original.get(f, 0.0), float(searcher.typical[f]))
             if f in edited else original.get(f, 0.0),
             "edited": f in edited, "typical": float(searcher.typical[f])}
            for f in shown]
        data["family_sliders"] = self._family_sliders(original, request.family_edits)
        return data

    def _family_sliders(self, original: dict[int, float],
                        family_edits: Sequence[str]) -> list[dict[str, Any]]:
        """Families that hold the query's features (strongest overlap first) and any family
        already edited, so a shared URL shows its family sliders again."""
        weight = families_by_overlap(original, self._family_of, FAMILY_SLIDERS)
        chosen = list(weight)
        for text in family_edits:
            family = parse_id(text.rpartition(":")[0])
            if family in self.families and family not in chosen:
                chosen.append(family)
        return [{**self.family_summary(f), "overlap": weight.get(f, 0.0)} for f in chosen]

    def lookup(self, text: str, limit: int = 10) -> dict[str, Any]:
        """Features (and families) whose label, or top titles when unlabelled, contain
        ``text``; an id matches itself. Powers "add a feature by typing its label"."""
        needle = text.strip().lower()
        found: list[int] = []
        ident = parse_id(needle)
        if ident is not None and ident < self.n_features:
            found.append(ident)
        for feature in range(self.n_features):
            if len(found) >= limit:
                break
            haystack = self.label(feature) or " | ".join(self.hints[feature])
            if needle in haystack.lower() and feature not in found:
                found.append(feature)
        families = [f for f in self.families.values()
                    if f.label and needle in f.label.lower()][:limit]
        return {"features": [self.name(f) for f in found],
                "families": [self.family_summary(f.id) for f in families],
                "matched_on": "labels" if self.searcher.resolver.labels else "top titles"}

    # -- feature page ------------------------------------------------------------------------

    def feature(self, feature: int, top: int = 10) -> dict[str, Any]:
        """Everything the feature page shows, in one answer."""
        self.check_feature(feature)
        index = self.searcher.features
        active = len(index.rows(feature))
        counts, edges = index.histogram(feature, HISTOGRAM_BINS)
        return {
            **self.name(feature),
            "scores": self.scores.get(feature, {}),
            "active_documents": active,
            "mean_activation": float(index.mean_activation[feature]),
            "max_activation": float(index.max_activation[feature]),
            "histogram": {"counts": counts.tolist(), "edges": edges.tolist(),
                          "inactive": int(index.n_documents - active)},
            "top_documents": self._top_documents(feature, top),
            "similar": self._similar(feature),
            "cooccurring": self._cooccurring(feature),
            "families": [self.family_summary(f) for f in self._family_of.get(feature, ())],
            "children": self._children(feature),
            "splits": self._splits(feature),
        }

    def _top_documents(self, feature: int, top: int) -> list[dict[str, Any]]:
        index = self.searcher.features
        rows = index.top_rows(feature, top)
        activation = dict(zip(*(a.tolist() for a in index.activations(feature)), strict=True))
        corpus = self.searcher.corpus
        columns = [c for c in ("id", "title", "year", "categories", "abstract")
                   if c in corpus.column_names]
        records = corpus.select(columns).take(pa.array(rows, pa.int64())).to_pylist()
        return [{"row": int(row), "id": r.get("id"), "title": r.get("title"),
                 "year": r.get("year"), "categories": r.get("categories") or [],
                 "snippet": _snippet(r.get("abstract") or ""),
                 "activation": activation[int(row)]}
                for row, r in zip(rows.tolist(), records, strict=True)]

    def _similar(self, feature: int) -> dict[str, list[dict[str, Any]]]:
        nearest, farthest = decoder_neighbours(self.decoder, feature, NEIGHBOURS)
        return {"nearest": [{**self.name(f), "cosine": c} for f, c in nearest],
                "farthest": [{**self.name(f), "cosine": c} for f, c in farthest]}

    def _cooccurring(self, feature: int) -> list[dict[str, Any]]:
        index = self.searcher.features
        found = cooccurring_features(self.searcher.codes, index.rows(feature), index.density,
                                     feature, NEIGHBOURS)
        return [{**self.name(f), "together": together, "cosine": cosine}
                for f, together, cosine in found]

    def _children(self, feature: int) -> list[dict[str, Any]]:
        """Direct children of the feature in the family it is the parent of, if any."""
        for family in self.families.values():
            if family.parent == feature:
                return [self.name(c) for c in family.direct_children]
        return []

    @cached_property
    def _split_maps(self) -> dict[str, tuple[list[list[int]], np.ndarray]]:
        """Per larger SAE: this SAE's feature → the larger SAE's features that best match it."""
        return {name: split_map(decoder, self.decoder)
                for name, (decoder, _) in self.larger.items()}

    def _splits(self, feature: int) -> list[dict[str, Any]]:
        out = []
        for name, (groups, cosine) in self._split_maps.items():
            labels = self.larger[name][1]
            members = sorted(groups[feature], key=lambda f: -cosine[f])
            out.append({"sae": name, "n_features": int(self.larger[name][0].shape[0]),
                        "features": [{"feature": f, "label": labels.get(f),
                                      "cosine": float(cosine[f])} for f in members]})
        return sorted(out, key=lambda s: s["n_features"])

    # -- families and map --------------------------------------------------------------------

    def family_tree(self) -> dict[str, Any]:
        """Families nested by containment, largest first at each level."""
        children: dict[int | None, list[int]] = {}
        for family, parent in self.family_parent.items():
            children.setdefault(parent, []).append(family)

        def node(family: int) -> dict[str, Any]:
            kids = sorted(children.get(family, []), key=lambda f: -self.families[f].size)
            return {**self.family_summary(family), "children": [node(k) for k in kids]}

        roots = sorted(children.get(None, []), key=lambda f: -self.families[f].size)
        return {"available": bool(self.families), "count": len(self.families),
                "roots": [node(f) for f in roots]}

    def family(self, family_id: int) -> dict[str, Any]:
        if family_id not in self.families:
            raise KeyError(f"family {family_id} does not exist")
        family = self.families[family_id]
        parent = self.family_parent.get(family_id)
        return {**self.family_summary(family_id),
                "members": [self.name(f) for f in family.members],
                "parent_family": None if parent is None else self.family_summary(parent)}

    @cached_property
    def _map(self) -> dict[str, Any]:
        """The UMAP feature map (:mod:`disentangle.stages.feature_map`): read from the
        workspace's cache, or computed in memory when it is missing or stale."""
        if self.workspace is None:
            raise DisentangleError("this app was built without a workspace; it has no map")
        return stages.build_feature_map(self.workspace, self.sae_name, self.searcher.features,
                                        [h[0] if h else None for h in self.hints], save=False)

    def map(self) -> dict[str, Any]:
        return self._map


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SNIPPET_CHARS:
        return text
    return text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


def _scores_by_feature(table: pa.Table | None) -> dict[int, dict[str, Any]]:
    """Scalar score columns of ``features.parquet`` per feature (lists and labels dropped)."""
    if table is None:
        return {}
    keep = [name for name, kind in zip(table.column_names, table.schema.types, strict=True)
            if name not in ("feature", "label") and not pa.types.is_list(kind)
            and not pa.types.is_large_list(kind)]
    features = table.column("feature").to_pylist()
    rows = table.select(keep).to_pylist()
    return {int(f): {k: _plain(v) for k, v in row.items()} for f, row in zip(features, rows,
                                                                          strict=True)}


def _keywords_by_feature(table: pa.Table | None) -> dict[int, list[str]]:
    """The keywords shown beside each label (none before ``interpret``, or from an LLM)."""
    if table is None or "keywords" not in table.column_names:
        return {}
    return {int(f): list(k or []) for f, k in zip(table.column("feature").to_pylist(),
                                                   table.column("keywords").to_pylist(),
                                                   strict=True)}


def _plain(value: Any) -> Any:
    """NaN is not JSON; show it as missing."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
