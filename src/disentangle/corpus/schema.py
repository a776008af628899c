"""The one table layout every corpus is normalised into, whatever its source format."""

from __future__ import annotations

import pyarrow as pa

CORPUS_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("abstract", pa.string(), nullable=False),
        pa.field("categories", pa.list_(pa.string()), nullable=False),
        pa.field("primary_category", pa.string(), nullable=False),
        pa.field("year", pa.int32(), nullable=True),
        pa.field("date", pa.string(), nullable=True),  # YYYY-MM-DD
    ]
)
