"""The stage API: every runner a Python user (and the CLI and the web app) needs, each run
against a :class:`~disentangle.workspace.Workspace` and returning a typed report.

corpus → embeddings → SAE → sparse codes → {labels, families, search}. Runners are safe to
re-run: they skip finished work, resume interrupted work and refuse to mix data from
different embedders, corpora or models.
"""

from disentangle.stages.build import embed, encode, ingest, sweep, train
from disentangle.stages.compare import Comparison, compare
from disentangle.stages.evaluate import evaluate_steering_sets
from disentangle.stages.families import FamilyBuildReport, FamilyView, describe
from disentangle.stages.families import build as build_families
from disentangle.stages.families import load as load_families
from disentangle.stages.families import summary as families_summary
from disentangle.stages.feature_map import build_feature_map
from disentangle.stages.interpretation import interpret
from disentangle.stages.readers import (
    codes,
    corpus_texts,
    families,
    open_sae,
    provenance,
    query_embedder,
    wider_saes,
)
from disentangle.stages.reports import (
    EmbedReport,
    EncodeReport,
    IndexReport,
    IngestReport,
    InterpretReport,
    SteeringEvalReport,
    SweepReport,
    TrainReport,
)
from disentangle.stages.search import ann_index, build_index, resolver, searcher
from disentangle.stages.trends import TrendsReport, trends

__all__ = [
    "Comparison",
    "EmbedReport",
    "EncodeReport",
    "FamilyBuildReport",
    "FamilyView",
    "IndexReport",
    "IngestReport",
    "InterpretReport",
    "SteeringEvalReport",
    "SweepReport",
    "TrainReport",
    "TrendsReport",
    "ann_index",
    "build_families",
    "build_feature_map",
    "build_index",
    "codes",
    "compare",
    "corpus_texts",
    "describe",
    "embed",
    "encode",
    "evaluate_steering_sets",
    "families",
    "families_summary",
    "ingest",
    "interpret",
    "load_families",
    "open_sae",
    "provenance",
    "query_embedder",
    "resolver",
    "searcher",
    "sweep",
    "train",
    "trends",
    "wider_saes",
]
