"""Which source field feeds each corpus column, so any JSONL/CSV/Parquet layout can be loaded."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from disentangle.errors import DisentangleError


@dataclass(frozen=True)
class FieldMap:
    """Source field names per corpus column; the defaults fit the shared arXiv files.

    ``primary_category`` may be None (never read it); when the field is absent from a record
    the first category is taken as primary, which is arXiv's own convention.
    """

    id: str = "id"
    title: str = "title"
    abstract: str = "abstract"
    categories: str = "categories"
    primary_category: str | None = "primary_category"
    date: str = "date"
    year: str = "year"

    @classmethod
    def parse(cls, spec: str) -> FieldMap:
        """Parse the CLI form ``"id=paper_id,abstract=summary"``; unnamed columns keep defaults.

        ``primary_category=`` (empty) means "derive it from the first category".
        """
        known = [f.name for f in fields(cls)]
        changes: dict[str, str | None] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key, sep, value = (s.strip() for s in item.partition("="))
            if not sep or not key:
                raise DisentangleError(
                    f"field mapping {item!r} is not column=source_field; "
                    "write it like 'id=paper_id,abstract=summary'"
                )
            if key not in known:
                raise DisentangleError(
                    f"unknown corpus column {key!r} in field mapping; use one of {', '.join(known)}"
                )
            if not value and key != "primary_category":
                raise DisentangleError(
                    f"field mapping for {key!r} names no source field; write {key}=<field name>"
                )
            changes[key] = value or None
        return replace(cls(), **changes)
