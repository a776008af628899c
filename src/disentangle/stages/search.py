"""Opening a workspace for search: the searcher, with its labels, families and index."""

from __future__ import annotations

import shutil
import time

from disentangle.embed import Embedder
from disentangle.errors import DisentangleError
from disentangle.io import DamagedFile, read_json, write_json
from disentangle.search import FaissIndex, FeatureResolver, IndexKind, Searcher
from disentangle.search.ondisk import IVFPQIndex, IVFPQSettings, Progress
from disentangle.stages.readers import (
    codes,
    families,
    open_sae,
    query_embedder,
    secondary_features,
)
from disentangle.stages.reports import IndexReport
from disentangle.workspace import Workspace


def searcher(workspace: Workspace, name: str | None = None,
             embedder: Embedder | None = None, index: IndexKind = "exact") -> Searcher:
    """A ready :class:`Searcher` over the workspace with the given (or latest) SAE, with
    feature labels and families when ``interpret`` and ``families build`` have run.
    ``index`` "hnsw", "ivf" or "ivfpq" uses the workspace's approximate index, built on
    first use (``build_index`` builds it ahead, with progress)."""
    name, sae, _ = open_sae(workspace, name)
    built = families(workspace, name)
    return Searcher(workspace.embeddings(), workspace.corpus(), sae, codes(workspace, name),
                    embedder or query_embedder(workspace),
                    labels=workspace.sae_folder(name).labels(),
                    families={f.id: f.members for f in built},
                    family_labels={f.id: f.label for f in built if f.label},
                    index=index if index == "exact" else ann_index(workspace, index),
                    secondary=secondary_features(workspace, name))


def resolver(workspace: Workspace, name: str) -> FeatureResolver:
    """The label resolver of SAE ``name`` without loading a searcher (``features find``)."""
    built = families(workspace, name)
    folder = workspace.sae_folder(name)
    return FeatureResolver(folder.feature_stats(["feature"]).num_rows, folder.labels(),
                           {f.id: f.members for f in built},
                           {f.id: f.label for f in built if f.label},
                           secondary_features(workspace, name))


ANN_KINDS = ("hnsw", "ivf", "ivfpq")


def ann_index(workspace: Workspace, kind: IndexKind,
              progress: Progress | None = None) -> FaissIndex:
    """The workspace's approximate index over its embeddings: loaded when it was built from
    the current embeddings, else built (minutes for millions of rows) and saved, the index
    file before the record that vouches for it. IVF-PQ is built in resumable chunks and
    memory-mapped when loaded (:mod:`disentangle.search.ondisk`)."""
    if kind not in ANN_KINDS:
        raise DisentangleError(f"unknown search index {kind!r}; use exact, or hnsw, ivf or "
                               "ivfpq (approximate)")
    embeddings = workspace.embeddings()
    built_from = workspace.require("embeddings", "embed")
    path, record_path = workspace.index_path(kind), workspace.index_record_path(kind)
    loader = IVFPQIndex if kind == "ivfpq" else FaissIndex
    if path.exists() and record_path.exists() and read_json(record_path) == built_from:
        try:
            return loader.load(path, embeddings, kind)
        except DamagedFile:
            pass  # a cache: rebuild it
    if kind == "ivfpq":
        index: FaissIndex = _build_ivfpq(workspace, built_from, progress)
    else:
        index = FaissIndex.build(embeddings, kind)
    index.save(path)
    write_json(record_path, built_from)
    shutil.rmtree(workspace.index_build(kind).directory, ignore_errors=True)
    return loader.load(path, embeddings, kind) if kind == "ivfpq" else index


def _build_ivfpq(workspace: Workspace, built_from: dict,
                 progress: Progress | None) -> IVFPQIndex:
    """Build in the workspace's resumable build folder, emptied first when it holds a build
    of other embeddings or settings."""
    embeddings = workspace.embeddings()
    build = workspace.index_build("ivfpq")
    settings = IVFPQSettings.for_size(*embeddings.shape)
    plan = {"built_from": built_from, "settings": settings.as_dict()}
    if build.directory.exists() and (not build.settings_path.exists()
                                     or read_json(build.settings_path) != plan):
        shutil.rmtree(build.directory)
    if not build.settings_path.exists():
        write_json(build.settings_path, plan)
    return IVFPQIndex.build_chunked(embeddings, settings, build, progress=progress)


def build_index(workspace: Workspace, kind: IndexKind,
                progress: Progress | None = None) -> IndexReport:
    """Build (or resume, or find current) the workspace's ``kind`` index ahead of search."""
    start = time.perf_counter()
    index = ann_index(workspace, kind, progress)
    path = workspace.index_path(kind)
    return IndexReport(kind=kind, rows=len(index), path=path,
                       size_bytes=path.stat().st_size, seconds=time.perf_counter() - start)
