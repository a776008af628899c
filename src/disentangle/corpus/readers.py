"""Stream raw records out of JSON-lines, CSV and Parquet files, numbered for error messages.

Readers never judge a record's content; they only report a row they cannot decode at all, so
the loader decides in one place whether malformed rows are fatal or skipped.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
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
# What a truncated or garbled compressed stream raises part-way through a file.
_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)
_BROKEN_STREAM = ("the compressed data is truncated or corrupt from here on ({error}); "
                  "re-download or re-compress the file")


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
    number = 0
    with _open_binary(path) as handle:
        lines = iter(handle)
        while True:
            try:
                line = next(lines)
            except StopIteration:
                return
            except _STREAM_ERRORS as error:
                yield number + 1, BadRecord(_BROKEN_STREAM.format(error=error))
                return
            number += 1
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
    """Rows as dicts of strings; an empty cell counts as a missing value. Bytes that are not
    UTF-8 are kept as surrogates while parsing, so only the row holding them is bad."""
    with io.TextIOWrapper(_open_binary(path), encoding="utf-8", errors="surrogateescape",
                          newline="") as handle:
        reader = csv.reader(handle)
        number = 0
        try:
            header = next(reader, None)
            if header is None:
                return
            if not _is_utf8(header):
                raise DisentangleError(f"{path}: the header row is not UTF-8 text; save the "
                                       "file as UTF-8 comma-separated text")
            for number, cells in enumerate(reader, 1):
                if not any(cells):
                    continue
                if not _is_utf8(cells):
                    yield number, BadRecord("is not valid UTF-8 text")
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
        except _STREAM_ERRORS as error:
            yield number + 1, BadRecord(_BROKEN_STREAM.format(error=error))
        except csv.Error as error:
            raise DisentangleError(
                f"{path}: row {number + 1} cannot be read as CSV ({error}); check it is "
                "comma-separated text"
            ) from None


def _is_utf8(cells: list[str]) -> bool:
    """False when decoding left surrogates in place of bytes that are not UTF-8."""
    try:
        "".join(cells).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
