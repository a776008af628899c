"""Compare SAEs of one workspace: matches across sizes, splits, split chains, seed stability.

Decoder rows are the feature directions, so every comparison is a cosine between decoder
rows (see :mod:`disentangle.families.matching`). SAEs are ordered by dictionary size; two
of the same size are treated as re-seeds of each other (stability), the rest as a ladder
of sizes (persistence and splits). Figures and ``compare.json`` go to
``<workspace>/compare/<names joined by +>/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from disentangle.errors import DisentangleError
from disentangle.families import (
    best_match,
    family_stability,
    feature_stability,
    hungarian_match,
    persistence,
    split_chain,
    splits,
)
from disentangle.families.matching import PERSIST_COSINE, SplitChain
from disentangle.io import write_json
from disentangle.stages.readers import families, open_sae
from disentangle.workspace import Workspace

TOP_SPLITS = 5


@dataclass
class Sae:
    name: str
    decoder: np.ndarray
    labels: list[str]
    """Interpretation labels ("" for every feature when there are none)."""

    def names(self) -> list[str]:
        """``#id label`` per feature, for figures."""
        return [f"#{i} {label}".strip() for i, label in enumerate(self.labels)]

    @property
    def n(self) -> int:
        return len(self.decoder)


def _load(workspace: Workspace, name: str) -> Sae:
    name, sae, _ = open_sae(workspace, name)
    decoder = sae.W_dec.detach().float().cpu().numpy()
    labels = workspace.sae_folder(name).labels() or {}
    labels = [labels.get(i) or "" for i in range(len(decoder))]
    return Sae(name, decoder, labels)


@dataclass
class Comparison:
    """Everything ``compare`` found; ``to_dict`` is what ``compare.json`` holds."""

    names: list[str]
    out_dir: Path
    pairs: list[dict[str, Any]] = field(default_factory=list)
    chain: dict[str, Any] | None = None
    stability: list[dict[str, Any]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"saes": self.names, "pairs": self.pairs, "chain": self.chain,
                "stability": self.stability, "figures": [str(p) for p in self.figures]}


def compare(workspace: Workspace, names: list[str],
            threshold: float = PERSIST_COSINE) -> Comparison:
    """Compare ≥ 2 SAEs (any order; sorted by size, ties kept in the given order)."""
    from disentangle.families import plots  # matplotlib only where figures are drawn

    if len(names) < 2 or len(set(names)) < len(names):
        raise DisentangleError("compare needs at least two different SAEs; pass e.g. "
                               "`disentangle compare n1536-k32 n3072-k32`")
    saes = sorted((_load(workspace, name) for name in names), key=lambda s: s.n)
    out_dir = workspace.compare_dir([s.name for s in saes])
    result = Comparison([s.name for s in saes], out_dir)
    ladder = [s for i, s in enumerate(saes) if i == 0 or s.n != saes[i - 1].n]
    cosines: dict[str, np.ndarray] = {}
    for small, large in pairwise(ladder):
        match, cosine = best_match(large.decoder, small.decoder)
        cosines[f"{small.name} → {large.name}"] = cosine
        result.pairs.append(_pair(small, large, match, cosine, threshold))
    for a, b in pairwise(saes):
        if a.n == b.n:
            result.stability.append(_stability(workspace, a, b, threshold))
            cosines[f"{a.name} ↔ {b.name} (re-seed)"] = feature_stability(a.decoder, b.decoder)
    hist = out_dir / "match_cosines.png"
    plots.plot_match_histograms(cosines, hist, threshold)
    result.figures.append(hist)
    if len(ladder) >= 2:
        chain = split_chain([s.decoder for s in ladder])
        consistency = chain.consistency()
        example = _example_feature(chain)
        tree = out_dir / "split_tree.png"
        plots.plot_split_tree(chain, example, tree, labels=[s.names() for s in ladder],
                        names=[f"{s.name}" for s in ladder])
        result.figures.append(tree)
        result.chain = {
            "saes": [s.name for s in ladder],
            "mean_consistency": float(np.nanmean(consistency)) if len(ladder) >= 3 else None,
            "fully_consistent": float(np.nanmean(consistency == 1)) if len(ladder) >= 3
            else None,
            "example": {"feature": example, "levels": [
                [s.names()[f] for f in level]
                for s, level in zip(ladder, chain.descendants(example), strict=True)]},
        }
    write_json(out_dir / "compare.json", result.to_dict())
    return result


def _pair(small: Sae, large: Sae, match: np.ndarray, cosine: np.ndarray,
          threshold: float) -> dict[str, Any]:
    """Persistence of the larger SAE's features and the biggest splits of the smaller one's."""
    groups = splits(match, small.n)
    sizes = np.array([len(g) for g in groups])
    biggest = np.argsort(-sizes, kind="stable")[:TOP_SPLITS]
    prefix = np.arange(small.n)
    return {
        "small": small.name, "large": large.name, **persistence(cosine, threshold),
        # Same-seed SAEs start from the same first rows; a high share here means matches
        # partly reflect the shared random initialisation, not learned structure.
        "same_index": float(np.mean(match[:small.n] == prefix)),
        "unmatched_small": int((sizes == 0).sum()),
        "split_small": int((sizes >= 2).sum()),
        "biggest_splits": [
            {"feature": int(f), "label": small.labels[f], "into": [
                {"feature": int(c), "label": large.labels[c], "cosine": float(cosine[c])}
                for c in sorted(groups[f], key=lambda c: -cosine[c])]}
            for f in biggest],
    }


def _stability(workspace: Workspace, a: Sae, b: Sae, threshold: float) -> dict[str, Any]:
    """Re-seed stability: best-match and one-to-one (Hungarian) cosines, and, when both SAEs
    have families, how well A's families reappear in B (best Jaccard after mapping)."""
    best = feature_stability(a.decoder, b.decoder)
    _, assigned = hungarian_match(a.decoder, b.decoder)
    out: dict[str, Any] = {
        "a": a.name, "b": b.name, "mean_best_cosine": float(best.mean()),
        "fraction_best_at_threshold": float((best >= threshold).mean()),
        "mean_one_to_one_cosine": float(np.nanmean(assigned)),
        "fraction_one_to_one_at_threshold": float(np.nanmean(assigned >= threshold)),
        "threshold": threshold,
    }
    fam_a, fam_b = families(workspace, a.name), families(workspace, b.name)
    if fam_a and fam_b:
        jaccard, _ = family_stability(fam_a, fam_b, best_match(a.decoder, b.decoder)[0], b.n)
        out["families"] = {"a": len(fam_a), "b": len(fam_b),
                           "mean_best_jaccard": float(jaccard.mean()) if len(jaccard) else None,
                           "fraction_jaccard_at_0.5": float((jaccard >= 0.5).mean())
                           if len(jaccard) else None}
    return out


def _example_feature(chain: SplitChain, max_leaves: int = 6) -> int:
    """A first-SAE feature whose split tree is most branched yet still fits on a page:
    most features at the last level, at most ``max_leaves`` at any level."""
    best, best_key = 0, (-1, -1)
    for feature in range(len(chain.direct)):
        levels = chain.descendants(feature)
        if max(len(level) for level in levels) > max_leaves:
            continue
        key = (len(levels[-1]), len(levels[1]) if len(levels) > 1 else 0)
        if key > best_key:
            best, best_key = feature, key
    return best
