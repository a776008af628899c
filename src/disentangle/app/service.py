"""Read-only data behind the web app: one workspace, one SAE, loaded once.

Everything a page needs is computed at start-up (unit decoder rows, wider-SAE matches, the
map, per-feature titles), so a request is a handful of array operations; nothing here writes
to the workspace. Labels, families and wider SAEs are optional: each is empty until the stage
that makes it has run, and every answer says so instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, cached_property
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
    WiderSplits,
    cooccurring_features,
    decoder_neighbours,
    direct_children,
    families_by_member,
    families_by_overlap,
    family_forest,
    nest_families,
)
from disentangle.interpret import keywords_by_feature, scalar_scores
from disentangle.search import DEFAULT_BLEND, DEFAULT_POOL, Searcher, parse_id
from disentangle.search.request import (
    LIMITS,
    MAX_BLEND,
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
        self.scores = scalar_scores(scores) if scores is not None else {}
        self.keywords = keywords_by_feature(scores) if scores is not None else {}
        self.families = {f.id: f for f in families}
        self.larger = larger or {}
        self.splits = WiderSplits(self.decoder, self.larger)
        self._family_of = families_by_member(families)
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
        """Build the map and load the query model now, so no request waits or loads them twice."""
        self.map()
        self.searcher.embedder.embed(["warm-up query"])

    @cached_property
    def hints(self) -> list[list[str]]:
        """Top-3 document titles per feature: what names an unlabelled feature."""
        return self.searcher.top_titles(3)

    @cached_property
    def _hint_text(self) -> dict[int, str]:
        """Top titles per feature as one string, for lookup (built once, not per keystroke)."""
        return {f: " | ".join(h) for f, h in enumerate(self.hints)}

    def name(self, feature: int) -> dict[str, Any]:
        """What the UI prints for a feature: its label, else its strongest title."""
        hints = self.hints[feature]
        return {"feature": feature, "label": self.searcher.resolver.label(feature),
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
                "default_pool": DEFAULT_POOL,
                "limits": {**LIMITS, "blend": MAX_BLEND}}

    # -- search ------------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> dict[str, Any]:
        """A steered search plus what the page draws: snippets, sliders, family sliders."""
        request.validate()
        searcher = self.searcher
        result = searcher.search(request.query, request.parsed_edits(), k=request.k,
                                 filters=request.filters(), mode=request.mode,  # type: ignore[arg-type]
                                 blend=request.blend, pool=request.pool_rule())
        data = result.to_dict()
        records = searcher.records(np.array([h.row for h in result.hits], np.int64), ["abstract"])
        for hit, record in zip(data["hits"], records, strict=True):
            hit["snippet"] = _snippet(record.get("abstract") or "")
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
        """Features (and families) a typed label means, through the same resolver as edits;
        unlabelled features match on their top titles. Powers "add a feature by its label"."""
        resolver = self.searcher.resolver
        families = [f for f in resolver.find_families(text, limit) if f in self.families]
        return {"features": [self.name(f) for f in resolver.find(text, limit, self._hint_text)],
                "families": [self.family_summary(f) for f in families],  # type: ignore[arg-type]
                "matched_on": "labels" if resolver.labels else "top titles"}

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
            "children": [self.name(c) for c in direct_children(self.families.values(), feature)],
            "splits": self.splits.of(feature),
        }

    def _top_documents(self, feature: int, top: int) -> list[dict[str, Any]]:
        index = self.searcher.features
        rows = index.top_rows(feature, top)
        activation = dict(zip(*(a.tolist() for a in index.activations(feature)), strict=True))
        return [{"row": row, **r, "categories": r.get("categories") or [],
                 "snippet": _snippet(r.pop("abstract", None) or ""), "activation": activation[row]}
                for row, r in zip(rows.tolist(), self.searcher.records(rows), strict=True)]

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

    # -- families and map --------------------------------------------------------------------

    def family_tree(self) -> dict[str, Any]:
        """Families nested by containment, largest first at each level."""
        def node(family: int, children: list) -> dict[str, Any]:
            return {**self.family_summary(family), "children": [node(*c) for c in children]}

        forest = family_forest(list(self.families.values()), self.family_parent)
        return {"available": bool(self.families), "count": len(self.families),
                "roots": [node(*tree) for tree in forest]}

    def family(self, family_id: int) -> dict[str, Any]:
        if family_id not in self.families:
            raise KeyError(f"family {family_id} does not exist")
        family = self.families[family_id]
        parent = self.family_parent.get(family_id)
        return {**self.family_summary(family_id),
                "members": [self.name(f) for f in family.members],
                "parent_family": None if parent is None else self.family_summary(parent)}

    @cache  # noqa: B019 -- one service per app, alive as long as the app
    def map(self) -> dict[str, Any]:
        """The UMAP feature map (:mod:`disentangle.stages.feature_map`): read from the
        workspace's cache, or computed in memory when it is missing or stale."""
        if self.workspace is None:
            raise DisentangleError("this app was built without a workspace; it has no map")
        return stages.build_feature_map(self.workspace, self.sae_name, self.searcher.features,
                                        [h[0] if h else None for h in self.hints], save=False)


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SNIPPET_CHARS:
        return text
    return text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
