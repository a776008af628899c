"""Feature families: subtrees of the density-directed spanning tree, found at several levels.

Follows the paper's procedure (digest, "Feature families"), with these interpretations:

- A *root* is a node with no parent in the current directed forest (no denser tree neighbour)
  and at least ``min_direct_children`` (3) children; its family is every node reachable from it
  (all descendants; a node with two denser neighbours belongs to both subtrees).
- *Recursion*: inside a family, drop its root; nodes left with no parent inside the subtree
  and ≥ 3 children there root sub-families (``depth`` counts these levels).
- *Iteration*: the first pass is iteration 0; then ``iterations`` (default 3, as in the
  paper's code, which builds four trees in all) times, every root found in the previous pass
  is removed from the clean set and the tree is rebuilt from the same normalised weights (the
  counts ``N_i`` stay those of the whole corpus, as in the paper's code).
- *Keep* families with more than 3 descendants ("more than 3 children" in the paper's code,
  whose children list holds all descendants).
- *Prune* (optional, ours): an ``is_root(feature)`` test drops families whose root does not
  name a topic (its subtree still yields sub-families, and the root leaves the next
  iteration as any root does); a ``belongs(root, member)`` test drops members attached only
  through co-occurrence of a shared word, or broader than their root, before the size rule
  and de-duplication (the workspace's rules: :mod:`disentangle.stages.family_rules`).
- *De-duplicate*: Jaccard of descendant sets > 0.6 marks a duplicate; families are visited
  largest first (ties: earlier iteration, shallower, lower parent id) and one is kept only if
  it duplicates none already kept — a deterministic reading of "keep the larger".
- *Settle* (optional, ours): a ``settle(families)`` step sees the de-duplicated families
  together (it may move a member to the root it is closest to, reorder members, cap their
  number); the size rule then applies again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np
from scipy import sparse

from disentangle.families.tree import FeatureTree, maximum_spanning_tree

Belongs = Callable[[int, int], bool]
"""``(root, member) -> bool``: may ``member`` sit under ``root`` in a family?"""
IsRoot = Callable[[int], bool]
"""``feature -> bool``: may ``feature`` root a family?"""
Settle = Callable[[list["Family"]], list["Family"]]
"""``families -> families``: a last look at all kept families together."""

MIN_DIRECT_CHILDREN = 3
MIN_SIZE = 4
MAX_MEMBERS = 12
"""Members a family rule keeps and a reader (or the audit packet) sees: about a dozen."""
MAX_JACCARD = 0.6
ITERATIONS = 3


@dataclass
class Family:
    """A parent feature and all its descendants in one iteration's tree."""

    id: int
    parent: int
    children: list[int]
    """All descendants, densest first (ties by id), or in the order ``settle`` gives."""
    direct_children: list[int]
    depth: int
    """0 for a root of the forest, +1 per recursion level inside a family."""
    iteration: int
    density: float
    """The parent's density."""
    label: str | None = field(default=None)

    @property
    def size(self) -> int:
        return len(self.children)

    @property
    def members(self) -> list[int]:
        """Parent then children: the features whose activity makes the family active."""
        return [self.parent, *self.children]


@dataclass
class FamilyBuild:
    """Families after de-duplication, and the tree of every iteration (for GraphML export)."""

    families: list[Family]
    trees: list[FeatureTree]


def find_roots(graph: nx.DiGraph, min_direct_children: int = MIN_DIRECT_CHILDREN) -> list[int]:
    """Nodes with no parent and at least ``min_direct_children`` children, in id order."""
    return sorted(n for n in graph.nodes
                  if graph.in_degree(n) == 0 and graph.out_degree(n) >= min_direct_children)


def _subtree_families(
    graph: nx.DiGraph, density: np.ndarray, iteration: int, depth: int, min_direct_children: int
) -> list[Family]:
    """Families rooted in ``graph`` and, recursively, inside each family without its root."""
    found: list[Family] = []
    for root in find_roots(graph, min_direct_children):
        descendants = nx.descendants(graph, root)
        order = sorted(descendants, key=lambda node: (-density[node], node))
        found.append(Family(
            id=-1, parent=root, children=order,
            direct_children=sorted(graph.successors(root), key=lambda node: (-density[node], node)),
            depth=depth, iteration=iteration, density=float(density[root]),
        ))
        found += _subtree_families(graph.subgraph(descendants), density, iteration, depth + 1,
                                   min_direct_children)
    return found


def prune(family: Family, belongs: Belongs) -> Family:
    """``family`` without the members that do not belong under its root."""
    kept = [c for c in family.children if belongs(family.parent, c)]
    members = set(kept)
    return replace(family, children=kept,
                   direct_children=[c for c in family.direct_children if c in members])


def jaccard(a: set[int], b: set[int]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def deduplicate(families: list[Family], max_jaccard: float = MAX_JACCARD) -> list[Family]:
    """Drop families whose descendant set overlaps a larger kept one with Jaccard > max."""
    kept: list[Family] = []
    kept_sets: list[set[int]] = []
    for family in sorted(families, key=lambda f: (-f.size, f.iteration, f.depth, f.parent)):
        members = set(family.children)
        if all(jaccard(members, other) <= max_jaccard for other in kept_sets):
            kept.append(family)
            kept_sets.append(members)
    return kept


def build_families(
    weights: sparse.spmatrix,
    density: np.ndarray,
    clean: np.ndarray | None = None,
    iterations: int = ITERATIONS,
    min_direct_children: int = MIN_DIRECT_CHILDREN,
    min_size: int = MIN_SIZE,
    max_jaccard: float = MAX_JACCARD,
    belongs: Belongs | None = None,
    is_root: IsRoot | None = None,
    settle: Settle | None = None,
) -> FamilyBuild:
    """Families from thresholded normalised weights (``normalised_weights``) and densities.

    ``clean`` (bool, length n) limits the features considered; ids in the result are global.
    ``is_root`` and ``belongs`` prune roots and members before families are kept or compared
    (see the module notes); ``settle`` then sees the de-duplicated families together.
    Ids are assigned after de-duplication in (iteration, depth, -size, parent) order.
    """
    density = np.asarray(density, dtype=np.float64)
    active = np.ones(len(density), bool) if clean is None else np.asarray(clean, bool).copy()
    trees: list[FeatureTree] = []
    candidates: list[Family] = []
    for iteration in range(iterations + 1):
        tree = maximum_spanning_tree(weights, density, active)
        trees.append(tree)
        found = _subtree_families(tree.graph(), density, iteration, 0, min_direct_children)
        if not found:
            break
        kept = [f for f in found if is_root is None or is_root(f.parent)]
        if belongs is not None:
            kept = [prune(f, belongs) for f in kept]
        candidates += [f for f in kept if f.size >= min_size]
        active[[f.parent for f in found]] = False
    families = deduplicate(candidates, max_jaccard)
    if settle is not None:
        families = [f for f in settle(families) if f.size >= min_size]
    families.sort(key=lambda f: (f.iteration, f.depth, -f.size, f.parent))
    for number, family in enumerate(families):
        family.id = number
    return FamilyBuild(families, trees)
