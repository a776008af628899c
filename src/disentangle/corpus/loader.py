"""Load one or more corpus files into a single de-duplicated, filtered CORPUS_SCHEMA table."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from disentangle.corpus.fields import FieldMap
from disentangle.corpus.filters import CorpusFilter
from disentangle.corpus.readers import open_source, read_records
from disentangle.corpus.records import BadRecord, Row, to_row
from disentangle.corpus.schema import CORPUS_SCHEMA
from disentangle.errors import DisentangleError

_ALL_FIELDS = FieldMap()  # both frozen, so one shared default instance is safe
_NO_FILTER = CorpusFilter()


@dataclass
class LoadReport:
    """The loaded table and what happened to every record read.

    ``read == table.num_rows + skipped_bad + duplicates + filtered_out``; rows dropped by
    ``sample`` or ``limit`` count as filtered out.
    """

    table: pa.Table
    read: int
    skipped_bad: int
    duplicates: int
    filtered_out: int


def load_corpus(
    paths: str | Path | Sequence[str | Path],
    *,
    fields: FieldMap = _ALL_FIELDS,
    filters: CorpusFilter = _NO_FILTER,
    skip_bad: bool = False,
    format: str | None = None,
) -> LoadReport:
    """Read ``paths`` in order, keep the first record of each id, then filter.

    Rows stay in file order; a sample is drawn with ``random.Random(seed)`` and sorted back
    into file order, so the table order never depends on the seed. With a ``limit`` and no
    ``sample`` reading stops once enough rows are kept, so later rows are neither read nor
    counted nor checked.
    """
    sources = [open_source(p, format) for p in _as_list(paths)]
    stop_at = filters.limit if filters.sample is None else None
    rows: list[Row] = []
    seen: set[str] = set()
    read = skipped_bad = duplicates = filtered_out = 0
    for source in sources:
        for number, record in read_records(source):
            read += 1
            try:
                if isinstance(record, BadRecord):
                    raise record
                row = to_row(record, fields)
            except BadRecord as problem:
                if not skip_bad:
                    raise DisentangleError(
                        f"{source.path}: {source.unit} {number}: {problem}; "
                        "fix the row or pass --skip-bad to skip malformed rows"
                    ) from None
                skipped_bad += 1
                continue
            if row.id in seen:
                duplicates += 1
                continue
            seen.add(row.id)
            if not filters.keeps(row):
                filtered_out += 1
                continue
            rows.append(row)
            if stop_at is not None and len(rows) >= stop_at:
                break
        if stop_at is not None and len(rows) >= stop_at:
            break
    selected = _sample_and_limit(rows, filters)
    filtered_out += len(rows) - len(selected)
    if not selected:
        raise DisentangleError(
            f"no papers left to load (read {read}, malformed {skipped_bad}, duplicates "
            f"{duplicates}, filtered out {filtered_out}); check the files, field mapping "
            "and filters"
        )
    return LoadReport(_to_table(selected), read, skipped_bad, duplicates, filtered_out)


def _as_list(paths: str | Path | Sequence[str | Path]) -> list[str | Path]:
    listed = [paths] if isinstance(paths, str | Path) else list(paths)
    if not listed:
        raise DisentangleError("no corpus files given; pass at least one file")
    return listed


def _sample_and_limit(rows: list[Row], filters: CorpusFilter) -> list[Row]:
    if filters.sample is not None and filters.sample < len(rows):
        picked = random.Random(filters.seed).sample(range(len(rows)), filters.sample)
        rows = [rows[i] for i in sorted(picked)]
    if filters.limit is not None:
        rows = rows[: filters.limit]
    return rows


def _to_table(rows: list[Row]) -> pa.Table:
    columns = zip(*rows, strict=True)
    arrays = [
        pa.array(values, type=f.type) for values, f in zip(columns, CORPUS_SCHEMA, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=CORPUS_SCHEMA)
