"""Steerable semantic search over SAE features: edits, steering modes, filters, indexes."""

from disentangle.search.edits import (
    Edit,
    FeatureResolver,
    ResolvedEdit,
    down,
    parse_edit,
    parse_id,
    parse_target,
    up,
)
from disentangle.search.evaluation import (
    QuerySet,
    evaluate_steering,
    load_query_set,
    summary_markdown,
    target_feature,
)
from disentangle.search.filters import FeatureIndex, Filters, MetadataIndex, build_mask
from disentangle.search.index import ExactIndex, FaissIndex, IndexKind, VectorIndex, make_index
from disentangle.search.searcher import (
    Contribution,
    FeatureInfo,
    Hit,
    QueryEmbedder,
    Searcher,
    SearchResult,
)
from disentangle.search.steer import Steered, steer

__all__ = [
    "Contribution",
    "Edit",
    "ExactIndex",
    "FaissIndex",
    "FeatureIndex",
    "FeatureInfo",
    "FeatureResolver",
    "Filters",
    "Hit",
    "IndexKind",
    "MetadataIndex",
    "QueryEmbedder",
    "QuerySet",
    "ResolvedEdit",
    "SearchResult",
    "Searcher",
    "Steered",
    "VectorIndex",
    "build_mask",
    "down",
    "evaluate_steering",
    "load_query_set",
    "make_index",
    "parse_edit",
    "parse_id",
    "parse_target",
    "steer",
    "summary_markdown",
    "target_feature",
    "up",
]
