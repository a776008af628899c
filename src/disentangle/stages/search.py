"""Opening a workspace for search: the searcher, with its labels, families and index."""

from __future__ import annotations

from disentangle.embed import Embedder
from disentangle.errors import DisentangleError
from disentangle.io import DamagedFile, read_json, write_json
from disentangle.search import FaissIndex, IndexKind, Searcher
from disentangle.stages.readers import (
    codes,
    families,
    open_sae,
    query_embedder,
    secondary_features,
)
from disentangle.workspace import Workspace


def searcher(workspace: Workspace, name: str | None = None,
             embedder: Embedder | None = None, index: IndexKind = "exact") -> Searcher:
    """A ready :class:`Searcher` over the workspace with the given (or latest) SAE, with
    feature labels and families when ``interpret`` and ``families build`` have run.
    ``index`` "hnsw" or "ivf" uses the workspace's approximate index, built on first use."""
    name, sae, _ = open_sae(workspace, name)
    built = families(workspace, name)
    return Searcher(workspace.embeddings(), workspace.corpus(), sae, codes(workspace, name),
                    embedder or query_embedder(workspace),
                    labels=workspace.sae_folder(name).labels(),
                    families={f.id: f.members for f in built},
                    family_labels={f.id: f.label for f in built if f.label},
                    index=index if index == "exact" else ann_index(workspace, index),
                    secondary=secondary_features(workspace, name))


def ann_index(workspace: Workspace, kind: IndexKind) -> FaissIndex:
    """The workspace's HNSW or IVF index over its embeddings: loaded when it was built from
    the current embeddings, else built (minutes for millions of rows) and saved, the index
    file before the record that vouches for it."""
    if kind not in ("hnsw", "ivf"):
        raise DisentangleError(f"unknown search index {kind!r}; use exact, or hnsw or ivf "
                               "(approximate)")
    embeddings = workspace.embeddings()
    built_from = workspace.require("embeddings", "embed")
    path, record_path = workspace.index_path(kind), workspace.index_record_path(kind)
    if path.exists() and record_path.exists() and read_json(record_path) == built_from:
        try:
            return FaissIndex.load(path, embeddings, kind)
        except DamagedFile:
            pass  # a cache: rebuild it
    index = FaissIndex.build(embeddings, kind)
    index.save(path)
    write_json(record_path, built_from)
    return index
