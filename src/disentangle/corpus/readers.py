"""Stream raw records out of JSON-lines, CSV and Parquet files, numbered for error messages.

Readers never judge a record's content; they only report a row they cannot decode at all, so
the loader decides in one place whether malformed rows are fatal or skipped.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from disentangle.corpus.records import BadRecord
from disentangle.errors import DisentangleError

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Source:
    """One input file and how to read it."""

    path: Path
    format: str

    @property
    def unit(self) -> str:
        """How a position is named in messages: JSON lines have lines, tables have rows."""
        return "line" if self.format == "jsonl" else "row"


def open_source(path: str | Path, format: str | None = None) -> Source:
    """Check that ``path`` exists and settle its format, from ``format`` or the extension."""
    path = Path(path)
    if not path.is_file():
        raise DisentangleError(f"{path}: no such corpus file; check the path")
    if format is not None:
        name = {"json": "jsonl", "ndjson": "jsonl"}.get(format.lower(), format.lower())
        if name not in FORMATS:
            raise DisentangleError(
                f"unknown corpus format {format!r}; use one of {', '.join(FORMATS)}"
            )
        return Source(path, name)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    name = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if name is None:
        raise DisentangleError(
            f"{path}: cannot tell the corpus format from the file name; use .jsonl, .jsonl.gz, "
            f".json, .csv, .csv.gz or .parquet, or pass --format"
        )
    return Source(path, name)


def read_records(source: Source) -> Iterator[tuple[int, dict[str, Any] | BadRecord]]:
    """Yield (1-based line/row number, record or the reason it could not be decoded)."""
    reader = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}[source.format]
    return reader(source.path)


def _open_binary(path: Path) -> IO[bytes]:
    """Open ``path``, decompressing gzip by its magic bytes rather than trusting the name."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | BadRecord]]:
    with _open_binary(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:  # includes undecodable UTF-8
                yield number, BadRecord(f"not valid JSON ({error})")
                continue
            if not isinstance(record, dict):
                yield number, BadRecord(f"expected a JSON object, got {type(record).__name__}")
                continue
            yield number, record


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any] | BadRecord]]:
    """Rows as dicts of strings; an empty cell counts as a missing value."""
    with io.TextIOWrapper(_open_binary(path), encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                return
            for number, cells in enumerate(reader, 1):
                if not any(cells):
                    continue
                if len(cells) != len(header):
                    yield (
                        number,
                        BadRecord(
                            f"has {len(cells)} cells but the header names {len(header)} columns"
                        ),
                    )
                    continue
                yield number, {k: v for k, v in zip(header, cells, strict=True) if v != ""}
        except (csv.Error, UnicodeDecodeError) as error:
            raise DisentangleError(
                f"{path}: cannot be read as CSV ({error}); check it is UTF-8 comma-separated text"
            ) from None


def _read_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any] | BadRecord]]:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise DisentangleError(
            f"{path}: not a readable Parquet file ({error}); check the file"
        ) from None
    number = 0
    for batch in parquet.iter_batches(batch_size=8192):
        for record in batch.to_pylist():
            number += 1
            yield number, record
