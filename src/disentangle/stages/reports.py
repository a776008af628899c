"""What each stage returns: typed reports a caller reads by attribute, not by string key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from disentangle.codes import SparseCodes
from disentangle.sae.trainer import TrainResult


@dataclass(frozen=True)
class IngestReport:
    documents: int
    corpus_hash: str
    read: int
    filtered_out: int
    duplicates: int
    skipped_bad: int
    unchanged: bool
    """The same corpus was already stored: nothing was written."""


@dataclass(frozen=True)
class EmbedReport:
    documents: int
    dim: int
    model: str
    embedded_now: int
    """Texts the live embedder embedded in this run (the rest came from the cache)."""
    seeded_from_precomputed: int
    seconds: float
    docs_per_second: float | None
    unchanged: bool
    device: str | None = None
    """Where the texts embedded now ran: ``cpu``, ``cuda``, or ``ray (2 actors on cpu)``."""

    @classmethod
    def from_record(cls, record: dict[str, Any], unchanged: bool) -> EmbedReport:
        return cls(documents=record["documents"], dim=record["dim"],
                   model=record["identity"]["model"], embedded_now=record["embedded_now"],
                   seeded_from_precomputed=record["seeded_from_precomputed"],
                   seconds=record["seconds"], docs_per_second=record["docs_per_second"],
                   unchanged=unchanged, device=record.get("device"))


@dataclass(frozen=True)
class TrainReport:
    name: str
    result: TrainResult

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.result.history


@dataclass(frozen=True)
class SweepReport:
    results: list[TrainResult]
    rows: list[dict[str, Any]]
    """One per member: name, n, k, epochs, final validation NMSE and dead fraction."""
    fit: dict[str, Any]
    """Scaling-law fits (``sae.scaling.fit_all``)."""
    paths: list[Path]


@dataclass(frozen=True)
class EncodeReport:
    name: str
    codes: SparseCodes
    unchanged: bool


@dataclass(frozen=True)
class IndexReport:
    kind: str
    rows: int
    path: Path
    size_bytes: int
    seconds: float
    """Wall time of this call: near zero when the index was already current."""


@dataclass(frozen=True)
class InterpretReport:
    name: str
    table: pa.Table
    """One row per feature: label, scores, density, top documents, clean flag."""
    summary: dict[str, Any]


@dataclass(frozen=True)
class SteeringEvalReport:
    name: str
    summaries: list[dict[str, Any]]
    """One entry per (set, operation, method, strength): means of the measures."""
    markdown: str
    paths: list[Path] = field(default_factory=list)
    """Rows, summary, markdown; then the judge packet and its key when asked for."""
    targets: list[dict[str, Any]] = field(default_factory=list)
    """Per set: the issue's targets checked on the summary."""
    queries: int = 0
