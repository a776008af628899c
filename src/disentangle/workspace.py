"""The on-disk workspace every stage reads from and writes to.

Layout (all writes atomic; see :mod:`disentangle.io`)::

    <root>/
      manifest.json            schema version + one record per finished stage
      corpus.parquet           the documents (id, title, abstract, categories, year, ...)
      embeddings.npy           float32 [documents, d], row i = corpus row i (memory-mapped)
      cache/<embedder-key>/    content-addressed embedding cache (resumable embedding)
      indexes/<kind>.faiss     approximate search indexes (+ .json: what they were built from)
      indexes/<kind>.build/    a resumable chunked build in progress (removed when it ends)
      saes/<name>/             one SAE: every file is named by :class:`SAEFolder`
      sweeps/, compare/        sweep results and cross-SAE comparisons

This module owns every artifact's file name: other modules ask a :class:`Workspace` or a
:class:`SAEFolder` for a path or a reader and never spell a file name themselves. The readers
return plain tables, arrays and dicts; the stage that gives them meaning (codes, labels,
families) wraps them, so this module stays at the bottom of the flow.

The manifest is what makes stages safe to re-run: each record carries the hash of its input
(corpus hash, embedder identity), so a stage can tell "already done", "interrupted" and
"stale because an earlier stage changed" apart, and refuse to mix incompatible data.
This module knows paths and records only; it imports no later stage.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.errors import DisentangleError
from disentangle.io import (
    DamagedFile,
    artifact,
    load_npy,
    parquet_columns,
    read_json,
    read_parquet,
    write_json,
    write_parquet,
)

SCHEMA_VERSION = 1
# Each file name with what rebuilds it when it is damaged (the readers of ``io`` say so).
MANIFEST_NAME = artifact("manifest.json", "delete it and run the stages again from `disentangle "
                         "ingest` (finished work is found and reused)")
CORPUS_NAME = artifact("corpus.parquet", "delete it and run `disentangle ingest` again")
EMBEDDINGS_NAME = artifact("embeddings.npy", "delete it and run `disentangle embed` again "
                           "(cached vectors are reused)")
_RETRAIN = "delete {folder} and run `disentangle train --name {sae}` again with its settings"
CONFIG_NAME = artifact("config.json", _RETRAIN)
STATE_NAME = artifact("state.pt", _RETRAIN)
METRICS_NAME = artifact("metrics.json", _RETRAIN)
WEIGHTS_NAME = artifact("model.safetensors", _RETRAIN)
_REENCODE = "delete {folder} and run `disentangle encode --sae {sae}` again"
CODES_INDICES_NAME = artifact("indices.npy", _REENCODE)
CODES_VALUES_NAME = artifact("values.npy", _REENCODE)
CODES_META_NAME = artifact("codes.json", _REENCODE)
FEATURE_STATS_NAME = artifact("feature_stats.parquet", _REENCODE)
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

    def sae_folder(self, name: str) -> SAEFolder:
        """The folder of SAE ``name``, trained or not (training writes into it)."""
        return SAEFolder(self.sae_dir(name))

    def sae(self, name: str | None = None) -> SAEFolder:
        """The folder of a trained SAE: ``name``, else the most recent (see ``resolve_sae``)."""
        return self.sae_folder(self.resolve_sae(name))

    def index_path(self, kind: str) -> Path:
        """Where the approximate (``hnsw``/``ivf``) search index of the embeddings lives."""
        return self.root / "indexes" / f"{kind}.faiss"

    def index_record_path(self, kind: str) -> Path:
        """The embeddings record an index was built from: it is stale when they differ."""
        return self.index_path(kind).with_suffix(".json")

    def index_build(self, kind: str) -> IndexBuild:
        """The resumable chunked build of the ``kind`` index (see :class:`IndexBuild`)."""
        return IndexBuild(self.root / "indexes" / f"{kind}.build")

    @property
    def sweeps_dir(self) -> Path:
        return self.root / "sweeps"

    @property
    def scaling_path(self) -> Path:
        """The scaling-law fit of the latest sweep."""
        return self.sweeps_dir / "scaling.json"

    def compare_dir(self, names: list[str]) -> Path:
        return self.root / "compare" / "+".join(names)

    def sae_names(self) -> list[str]:
        """Names of the SAEs whose training finished (they have a model file)."""
        if not self.saes_root.exists():
            return []
        return sorted(p.name for p in self.saes_root.iterdir() if SAEFolder(p).is_trained)

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
        return max(names, key=lambda n: self.sae_folder(n).weights_path.stat().st_mtime)

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
    def store_corpus(self, table: pa.Table, info: dict[str, Any]) -> None:
        """Write the corpus, then the record that vouches for it."""
        write_parquet(self.corpus_path, table)
        self.record("corpus", info)
        self._corpus = None

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

    def require_codes(self, name: str) -> dict[str, Any]:
        """The record of SAE ``name``'s codes, refusing codes of an earlier corpus."""
        record = self.require(f"codes/{name}", f"encode --sae {name}")
        if record["corpus_hash"] != self.corpus_hash():
            raise DisentangleError(f"the codes of {name} belong to an earlier corpus; run "
                                   f"`disentangle encode --workspace {self.root} --sae {name}`")
        return record


@dataclass(frozen=True)
class IndexBuild:
    """The files of a chunked index build: its settings, the trained empty index and one
    part per finished chunk of rows, so an interrupted build resumes at the next chunk."""

    directory: Path

    @property
    def settings_path(self) -> Path:
        return self.directory / "settings.json"

    @property
    def trained_path(self) -> Path:
        return self.directory / "trained.faiss"

    def part_path(self, chunk: int) -> Path:
        return self.directory / f"part-{chunk:05d}.faiss"


@dataclass(frozen=True)
class BatchStore:
    """The finished batches of a resumable run, one table per batch, kept per run key (a hash
    of the settings) so runs with other settings never mix."""

    directory: Path

    def path(self, run_key: str, first: int) -> Path:
        return self.directory / run_key / f"batch-{first:06d}.parquet"

    def batches(self, run_key: str) -> list[Path]:
        return sorted((self.directory / run_key).glob("batch-*.parquet"))

    def by_first(self, run_key: str) -> dict[int, Path]:
        """The finished batches keyed by their first row (numerically, past six digits)."""
        return {int(path.stem.removeprefix("batch-")): path for path in self.batches(run_key)}

    def clear(self) -> None:
        """Delete every run's batches (once their result is written whole)."""
        shutil.rmtree(self.directory, ignore_errors=True)


class SAEFolder:
    """Every file of one SAE's folder (``saes/<name>/``): its paths, and readers that say
    which command makes a missing file.

    Layout::

        model.safetensors, config.json, metrics.json, state.pt    training (sae/checkpoint.py)
        codes/indices.npy, values.npy, codes.json                  encode
        codes/feature_stats.parquet                                encode
        codes-partial/                                             encode (resumable shards)
        features.parquet (+ .json), interpret/                     interpret
        families.parquet (+ .json, .graphml), families-scoring/    families build
        trends/, eval/, audit/                                     trends, eval
        feature_map.json                                           map (or serve)
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = root.name

    def __repr__(self) -> str:
        return f"SAEFolder({str(self.root)!r})"

    # -- training ----------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def state_path(self) -> Path:
        return self.root / STATE_NAME

    @property
    def metrics_path(self) -> Path:
        return self.root / METRICS_NAME

    @property
    def weights_path(self) -> Path:
        return self.root / WEIGHTS_NAME

    @property
    def is_trained(self) -> bool:
        """The weights are written last, so their presence marks a finished run."""
        return self.weights_path.exists()

    # -- codes -------------------------------------------------------------------------------
    @property
    def codes_dir(self) -> Path:
        return self.root / "codes"

    @property
    def codes_indices_path(self) -> Path:
        return self.codes_dir / CODES_INDICES_NAME

    @property
    def codes_values_path(self) -> Path:
        return self.codes_dir / CODES_VALUES_NAME

    @property
    def codes_meta_path(self) -> Path:
        return self.codes_dir / CODES_META_NAME

    @property
    def feature_stats_path(self) -> Path:
        return self.codes_dir / FEATURE_STATS_NAME

    @property
    def encode_batches(self) -> BatchStore:
        """Finished code shards of an encode run (in-process or Ray alike: what a resumed
        run of either skips); cleared once the codes are written whole."""
        return BatchStore(self.root / "codes-partial")

    def feature_stats(self, columns: list[str] | None = None) -> pa.Table:
        """Per-feature density, activations and top rows, sorted by feature id."""
        return self._table(self.feature_stats_path, "feature statistics", "encode",
                           columns).sort_by("feature")

    # -- interpretation ----------------------------------------------------------------------
    @property
    def features_path(self) -> Path:
        return self.root / FEATURES_NAME

    @property
    def features_json_path(self) -> Path:
        return self.root / "features.json"

    @property
    def interpret_dir(self) -> Path:
        return self.root / "interpret"

    @property
    def interpret_batches(self) -> BatchStore:
        """Finished batches of interpretation runs (what a resumed run skips)."""
        return BatchStore(self.interpret_dir / "partial")

    @property
    def interpret_summary_path(self) -> Path:
        return self.interpret_dir / "summary.json"

    @property
    def scores_plot_path(self) -> Path:
        return self.interpret_dir / "scores.png"

    @property
    def has_features(self) -> bool:
        return self.features_path.exists()

    def features(self, columns: list[str] | None = None) -> pa.Table:
        """The labelled, scored features written by ``interpret``."""
        return self._table(self.features_path, "feature labels", "interpret", columns)

    def labels(self) -> dict[int, str] | None:
        """Feature id → label, or None before ``interpret`` has run."""
        if not self.has_features:
            return None
        table = self.features(["feature", "label"])
        return dict(zip(table.column("feature").to_pylist(), table.column("label").to_pylist(),
                        strict=True))

    # -- families, trends, evaluations -------------------------------------------------------
    @property
    def families_path(self) -> Path:
        return self.root / FAMILIES_NAME

    @property
    def families_json_path(self) -> Path:
        return self.root / "families.json"

    @property
    def families_graphml_path(self) -> Path:
        return self.root / "families.graphml"

    @property
    def family_scoring_batches(self) -> BatchStore:
        """Finished batches of family-label scoring (resumable like interpretation)."""
        return BatchStore(self.root / "families-scoring" / "partial")

    @property
    def has_families(self) -> bool:
        return self.families_path.exists()

    def families(self) -> pa.Table:
        """The families written by ``families build``."""
        return self._table(self.families_path, "families", "families build")

    def trend_paths(self, stem: str) -> tuple[Path, Path, Path]:
        """(table, long prevalence table, figure) of one trends analysis."""
        base = self.root / "trends" / stem
        return (base.with_suffix(".parquet"), base.parent / f"{stem}-prevalence.parquet",
                base.with_suffix(".png"))

    @property
    def feature_map_path(self) -> Path:
        """The cached UMAP feature map (``stages/feature_map.py``)."""
        return self.root / "feature_map.json"

    def eval_paths(self, stem: str) -> tuple[Path, Path]:
        """(table, summary) of one evaluation run."""
        base = self.root / "eval" / stem
        return base.with_suffix(".parquet"), base.with_suffix(".json")

    def eval_rewrites_path(self, stem: str) -> Path:
        """The LLM rewrites an evaluation run asked for, as JSON lines (read back with
        ``--rewrites``)."""
        return self.root / "eval" / f"{stem}-rewrites.jsonl"

    def eval_report_path(self, stem: str) -> Path:
        """The markdown report that sums up several evaluation runs."""
        return self.root / "eval" / f"{stem}.md"

    @property
    def audit_dir(self) -> Path:
        """Blind audits (``eval labels|families``): ``<kind>-packet.md`` for the judge,
        ``<kind>-key.json`` for the scorer, ``<kind>-answers-llm.jsonl`` from an LLM judge."""
        return self.root / "audit"

    def _table(self, path: Path, what: str, command: str,
               columns: list[str] | None = None) -> pa.Table:
        rerun = (f"`disentangle {command} --workspace {self.root.parent.parent} "
                 f"--sae {self.name}`")
        if not path.exists():
            raise DisentangleError(f"SAE {self.name} has no {what} yet; run {rerun}")
        missing = sorted(set(columns or ()) - set(parquet_columns(path)))
        if missing:
            raise DisentangleError(f"the {what} of SAE {self.name} lack {', '.join(missing)} "
                                   f"(an older version wrote them); re-run {rerun}")
        return read_parquet(path, columns=columns)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
