"""Opening what earlier stages stored, with the checks that keep data from different
embedders, corpora or models apart. Every runner and every front end reads through here."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from disentangle.codes import SparseCodes
from disentangle.corpus import document_text
from disentangle.embed import Embedder, EmbedderIdentity, query_embedder_for
from disentangle.errors import DisentangleError
from disentangle.families import Family, families_from_table
from disentangle.families.matching import unit_rows
from disentangle.sae.checkpoint import check_compatible, load_sae
from disentangle.sae.model import TopKSAE
from disentangle.workspace import Workspace


def corpus_texts(workspace: Workspace) -> list[str]:
    """The text embedded for each document: title and abstract, as the paper does."""
    corpus = workspace.corpus()
    return [document_text(title, abstract) for title, abstract in
            zip(corpus.column("title").to_pylist(), corpus.column("abstract").to_pylist(),
                strict=True)]


def query_embedder(workspace: Workspace) -> Embedder:
    """A live embedder that maps text into the space of the workspace's embeddings."""
    record = workspace.require("embeddings", "embed")
    return query_embedder_for(EmbedderIdentity.from_dict(record["identity"]), record["spec"])


def provenance(workspace: Workspace) -> dict[str, Any]:
    """What an SAE checkpoint records about its inputs, so it is never applied to the wrong
    vectors (checked by ``check_compatible``)."""
    return {"embedder": workspace.embedder_identity(), "corpus_hash": workspace.corpus_hash(),
            "input_normalization": "none: embeddings are used as the embedder returns them "
                                   "(see embedder.normalized)"}


def open_sae(workspace: Workspace, name: str | None = None) -> tuple[str, TopKSAE,
                                                                      dict[str, Any]]:
    """A trained SAE (name, model, metadata), checked to belong to this workspace's
    embedder."""
    folder = workspace.sae(name)
    sae, meta = load_sae(folder.root)
    check_compatible(meta, workspace.embedder_identity())
    return folder.name, sae, meta


def codes(workspace: Workspace, name: str) -> SparseCodes:
    """The stored codes of an SAE, refusing codes of an earlier corpus."""
    workspace.require_codes(name)
    return SparseCodes.load(workspace.sae_folder(name))


def families(workspace: Workspace, name: str) -> list[Family]:
    """Families written by ``families build``, or none."""
    folder = workspace.sae_folder(name)
    return families_from_table(folder.families()) if folder.has_families else []


def secondary_features(workspace: Workspace, name: str) -> list[int]:
    """Features a label lookup prefers others to: duplicates of another's label, and mixed
    features (see :class:`disentangle.search.FeatureResolver`)."""
    folder = workspace.sae_folder(name)
    if not folder.has_features:
        return []
    table = folder.features()
    secondary = np.zeros(table.num_rows, bool)
    if "duplicate_of" in table.column_names:
        secondary |= table.column("duplicate_of").to_numpy() >= 0
    if "mixed" in table.column_names:
        secondary |= table.column("mixed").to_numpy(zero_copy_only=False).astype(bool)
    return table.column("feature").to_numpy()[secondary].tolist()


def file_hash(path: Path) -> str:
    """SHA-256 of a file, read in blocks (model weights decide whether codes are stale)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wider_saes(workspace: Workspace, name: str) -> dict[str, tuple[np.ndarray, dict[int, str]]]:
    """Unit decoder rows and labels of the workspace's SAEs wider than ``name`` on the same
    embeddings, to show how a feature splits as the dictionary grows."""
    _, sae, _ = open_sae(workspace, name)
    wider = {}
    for other in workspace.sae_names():
        if other == name:
            continue
        try:
            _, candidate, _ = open_sae(workspace, other)
        except DisentangleError:
            continue  # trained on another embedder: its features are not comparable
        if candidate.config.n > sae.config.n:
            decoder = unit_rows(candidate.W_dec.detach().cpu().float().numpy())
            wider[other] = (decoder, workspace.sae_folder(other).labels() or {})
    return wider
