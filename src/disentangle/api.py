"""The Python API on one import line: the workspace, the inputs each stage takes, and the
stages themselves (see :mod:`disentangle.stages` for every runner and reader)::

    from disentangle.api import Workspace, load_corpus, ingest, embed, train, encode, searcher
"""

from disentangle.corpus import CorpusFilter, FieldMap, load_corpus
from disentangle.embed.specs import MiniLM, OpenAICompatible, Precomputed
from disentangle.errors import DisentangleError
from disentangle.ray_engine import RayEngine
from disentangle.sae.model import SAEConfig
from disentangle.sae.trainer import TrainConfig
from disentangle.search import Filters, down, up
from disentangle.stages import (
    build_families,
    codes,
    compare,
    describe,
    embed,
    encode,
    evaluate_steering_sets,
    families,
    ingest,
    interpret,
    searcher,
    sweep,
    train,
    trends,
)
from disentangle.workspace import Workspace

__all__ = [
    "CorpusFilter", "DisentangleError", "FieldMap", "Filters", "MiniLM", "OpenAICompatible",
    "Precomputed", "RayEngine", "SAEConfig", "TrainConfig", "Workspace", "build_families",
    "codes", "compare", "describe", "down", "embed", "encode", "evaluate_steering_sets", "families",
    "ingest", "interpret", "load_corpus", "searcher", "sweep", "train", "trends", "up",
]
