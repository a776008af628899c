"""Feature families (co-occurrence trees), cross-SAE matching, stability and trends.

Figures live in :mod:`disentangle.families.plots`, imported only where one is drawn, so
that reading families (the web app does) never loads matplotlib."""

from disentangle.families.activation import family_activations, family_membership
from disentangle.families.cooccurrence import (
    DEFAULT_THRESHOLD,
    activity_matrix,
    clean_mask,
    cooccurrence,
    edge_weights,
    feature_counts,
    normalised_weights,
    restrict,
)
from disentangle.families.extract import (
    Belongs,
    Family,
    FamilyBuild,
    IsRoot,
    Settle,
    build_families,
    deduplicate,
    find_roots,
    jaccard,
    prune,
)
from disentangle.families.labels import Labeller, label_families, label_family
from disentangle.families.matching import (
    SplitChain,
    best_match,
    hungarian_match,
    persistence,
    split_chain,
    splits,
)
from disentangle.families.nesting import Nesting
from disentangle.families.stability import family_stability, feature_stability
from disentangle.families.table import (
    SCORE_COLUMNS,
    families_from_table,
    families_table,
    write_tree_graphml,
)
from disentangle.families.tree import FeatureTree, denser_first, maximum_spanning_tree
from disentangle.families.trends import (
    category_groups,
    prevalence,
    top_trends,
    trends_table,
    year_groups,
)

__all__ = [
    "DEFAULT_THRESHOLD", "SCORE_COLUMNS", "Belongs", "Family", "FamilyBuild", "FeatureTree",
    "IsRoot", "Labeller", "Nesting", "Settle", "SplitChain", "activity_matrix", "best_match",
    "build_families",
    "category_groups", "clean_mask", "cooccurrence", "deduplicate", "denser_first",
    "edge_weights", "families_from_table", "families_table", "family_activations",
    "family_membership", "family_stability", "feature_counts", "feature_stability",
    "find_roots", "hungarian_match", "jaccard", "label_families", "label_family",
    "maximum_spanning_tree", "normalised_weights", "persistence", "prevalence", "prune",
    "restrict", "split_chain", "splits", "top_trends", "trends_table", "write_tree_graphml",
    "year_groups",
]
