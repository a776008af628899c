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
    Case,
    QuerySet,
    evaluate_steering,
    load_query_set,
    summarise,
    summary_markdown,
    targets,
    targets_markdown,
)
from disentangle.search.filters import FeatureIndex, Filters, MetadataIndex, build_mask
from disentangle.search.hybrid import DEFAULT_BLEND, DEFAULT_POOL, FeatureTerms, hybrid_rank
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
    "DEFAULT_BLEND",
    "DEFAULT_POOL",
    "Case",
    "Contribution",
    "Edit",
    "ExactIndex",
    "FaissIndex",
    "FeatureIndex",
    "FeatureInfo",
    "FeatureResolver",
    "FeatureTerms",
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
    "hybrid_rank",
    "load_query_set",
    "make_index",
    "parse_edit",
    "parse_id",
    "parse_target",
    "steer",
    "summarise",
    "summary_markdown",
    "targets",
    "targets_markdown",
    "up",
]
