"""The on-disk workspace every stage reads from and writes to.

Layout (all writes atomic; see :mod:`disentangle.io`)::

    <root>/
      manifest.json            schema version + one record per finished stage
      corpus.parquet           the documents (id, title, abstract, categories, year, ...)
      embeddings.npy           float32 [documents, d], row i = corpus row i (memory-mapped)
      cache/<embedder-key>/    content-addressed embedding cache (resumable embedding)
      saes/<name>/             one trained SAE: model.safetensors, config.json, metrics.json
      saes/<name>/codes/       its sparse codes of the corpus + feature_stats.parquet

The manifest is what makes stages safe to re-run: each record carries the hash of its input
(corpus hash, embedder identity), so a stage can tell "already done", "interrupted" and
"stale because an earlier stage changed" apart, and refuse to mix incompatible data.
This module knows paths and records only; it imports no later stage.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.errors import DisentangleError
from disentangle.io import DamagedFile, artifact, load_npy, read_json, read_parquet, write_json

SCHEMA_VERSION = 1
MANIFEST_NAME = artifact("manifest.json", "delete it and run the stages again from `disentangle "
                         "ingest` (finished work is found and reused)")
CORPUS_NAME = artifact("corpus.parquet", "delete it and run `disentangle ingest` again")
EMBEDDINGS_NAME = artifact("embeddings.npy", "delete it and run `disentangle embed` again "
                           "(cached vectors are reused)")
FEATURES_NAME = artifact("features.parquet", "delete it and run `disentangle interpret --sae "
                         "{sae}` again (finished batches are reused)")
FAMILIES_NAME = artifact("families.parquet", "delete it and run `disentangle families build "
                         "--sae {sae}` again")


class Workspace:
    """A directory holding one corpus, its embeddings, and any number of SAEs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._corpus: pa.Table | None = None

    @classmethod
    def create(cls, root: str | Path) -> Workspace:
        """Open ``root`` as a workspace, creating it (and its manifest) if needed."""
        workspace = cls(root)
        if workspace.root.exists() and not workspace.root.is_dir():
            raise DisentangleError(f"{workspace.root} is a file, not a directory; "
                                   "pass another --workspace path")
        if not workspace.manifest_path.exists():
            workspace.root.mkdir(parents=True, exist_ok=True)
            write_json(workspace.manifest_path, {"schema_version": SCHEMA_VERSION,
                                                 "created": _now(), "stages": {}})
        workspace.manifest()  # validates the schema version
        return workspace

    @classmethod
    def open(cls, root: str | Path) -> Workspace:
        """Open an existing workspace; a clear error if there is none."""
        workspace = cls(root)
        if not workspace.manifest_path.exists():
            raise DisentangleError(f"no workspace at {workspace.root}; run `disentangle ingest "
                                   f"CORPUS --workspace {workspace.root}` first")
        workspace.manifest()
        return workspace

    # -- paths ---------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def corpus_path(self) -> Path:
        return self.root / CORPUS_NAME

    @property
    def embeddings_path(self) -> Path:
        return self.root / EMBEDDINGS_NAME

    @property
    def cache_root(self) -> Path:
        return self.root / "cache"

    @property
    def saes_root(self) -> Path:
        return self.root / "saes"

    def sae_dir(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise DisentangleError(f"invalid SAE name {name!r}; use letters, digits, - and _")
        return self.saes_root / name

    def codes_dir(self, name: str) -> Path:
        return self.sae_dir(name) / "codes"

    def index_path(self, kind: str) -> Path:
        """Where the approximate (``hnsw``/``ivf``) search index of the embeddings lives."""
        return self.root / "indexes" / f"{kind}.faiss"

    def sae_names(self) -> list[str]:
        """Names of the SAEs whose training finished (they have a model file)."""
        if not self.saes_root.exists():
            return []
        return sorted(p.name for p in self.saes_root.iterdir()
                      if (p / "model.safetensors").exists())

    def resolve_sae(self, name: str | None) -> str:
        """``name`` if given and trained; else the only/most recent SAE; else a clear error."""
        names = self.sae_names()
        if name is not None:
            if name not in names:
                known = ", ".join(names) or "none yet"
                raise DisentangleError(f"no trained SAE named {name!r} in {self.root} "
                                       f"(trained: {known}); run `disentangle train` first")
            return name
        if not names:
            raise DisentangleError(f"no trained SAE in {self.root}; run `disentangle train "
                                   f"--workspace {self.root}` first")
        return max(names, key=lambda n: (self.sae_dir(n) / "model.safetensors").stat().st_mtime)

    # -- manifest ------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        manifest = read_json(self.manifest_path)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("stages"), dict):
            raise DamagedFile(self.manifest_path, "not a manifest: no stages record")
        version = manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise DisentangleError(f"workspace {self.root} has schema version {version}, this "
                                   f"disentangle reads {SCHEMA_VERSION}; use a new workspace")
        return manifest

    def stage(self, name: str) -> dict[str, Any] | None:
        """The record of a finished stage, or None."""
        return self.manifest()["stages"].get(name)

    def require(self, name: str, command: str) -> dict[str, Any]:
        record = self.stage(name)
        if record is None:
            raise DisentangleError(f"workspace {self.root} has no {name} yet; run "
                                   f"`disentangle {command} --workspace {self.root}` first")
        return record

    def record(self, name: str, info: dict[str, Any]) -> None:
        """Atomically store the record of a finished stage (replacing an older one)."""
        manifest = self.manifest()
        manifest["stages"][name] = {**info, "finished": _now()}
        write_json(self.manifest_path, manifest)

    def forget(self, name: str) -> None:
        """Drop a stage record (its outputs became stale)."""
        manifest = self.manifest()
        if manifest["stages"].pop(name, None) is not None:
            write_json(self.manifest_path, manifest)

    # -- data ----------------------------------------------------------------------------
    def corpus(self) -> pa.Table:
        """The corpus table (read once, then cached)."""
        self.require("corpus", "ingest")
        if self._corpus is None:
            self._corpus = read_parquet(self.corpus_path)
        return self._corpus

    def corpus_hash(self) -> str:
        return self.require("corpus", "ingest")["corpus_hash"]

    def embeddings(self) -> np.ndarray:
        """Memory-mapped float32 embeddings of the current corpus; refuses stale ones."""
        record = self.require("embeddings", "embed")
        if record["corpus_hash"] != self.corpus_hash():
            raise DisentangleError(f"the embeddings in {self.root} belong to an earlier corpus; "
                                   f"run `disentangle embed --workspace {self.root}` (cached "
                                   "texts are not embedded again)")
        return load_npy(self.embeddings_path)

    def embedder_identity(self) -> dict[str, Any]:
        return self.require("embeddings", "embed")["identity"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
