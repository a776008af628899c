"""Turn one raw source record into a corpus row, whatever arXiv dump it came from.

Besides the shared files (``date``/``year`` fields, list categories) this understands the
Kaggle/OAI snapshot transparently: space-separated category strings and dates hidden in
``versions[0].created`` or ``update_date``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NamedTuple

from disentangle.corpus.fields import FieldMap

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CATEGORY = re.compile(r"[^\s,;\[\]'\"]+")  # also unpacks "['cs.LG', 'stat.ML']" from CSV cells
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


class BadRecord(ValueError):
    """A record that cannot become a row; the message says what is wrong with it."""


class Row(NamedTuple):
    """One paper, in CORPUS_SCHEMA column order."""

    id: str
    title: str
    abstract: str
    categories: list[str]
    primary_category: str
    year: int | None
    date: str | None


def to_row(record: dict[str, Any], fields: FieldMap) -> Row:
    """Normalise ``record``; raise BadRecord when it lacks or mistypes a required field."""
    paper_id = _text(record, fields.id)
    title = _text(record, fields.title)
    abstract = _text(record, fields.abstract)
    categories = _categories(record.get(fields.categories))
    primary = None
    if fields.primary_category is not None:
        primary = _optional_text(record, fields.primary_category)
    if primary is None:
        primary = categories[0] if categories else ""
    date = _date(record, fields.date)
    year = _year(record.get(fields.year), fields.year)
    if year is None and date is not None:
        year = int(date[:4])
    return Row(paper_id, title, abstract, categories, primary, year, date)


def _text(record: dict[str, Any], field: str) -> str:
    """A required text field with whitespace collapsed (the Kaggle snapshot wraps lines)."""
    value = record.get(field)
    if value is None:
        raise BadRecord(f"missing field {field!r}")
    if not isinstance(value, str):
        raise BadRecord(f"field {field!r} should be text, got {type(value).__name__}")
    value = " ".join(value.split())
    if not value:
        raise BadRecord(f"field {field!r} is empty")
    return value


def _optional_text(record: dict[str, Any], field: str) -> str | None:
    value = record.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRecord(f"field {field!r} should be text, got {type(value).__name__}")
    return value.strip() or None


def _categories(value: Any) -> list[str]:
    """Accept a list of codes or one string of codes separated by spaces or commas."""
    if value is None:
        return []
    if isinstance(value, str):
        return _CATEGORY.findall(value)
    if isinstance(value, list | tuple) and all(isinstance(c, str) for c in value):
        return [c.strip() for c in value if c.strip()]
    raise BadRecord("field 'categories' should be a list of strings or one string of codes")


def _date(record: dict[str, Any], field: str) -> str | None:
    """YYYY-MM-DD from the date field, else (Kaggle snapshot) the first version or update date."""
    value = record.get(field)
    if value is None or value == "":
        return _kaggle_date(record)
    if isinstance(value, dt.date):  # Parquet date/timestamp columns
        return value.isoformat()[:10]
    if isinstance(value, str) and (match := _DATE.match(value.strip())):
        return _checked_date(*match.groups(), field)
    raise BadRecord(f"field {field!r} should be a YYYY-MM-DD date, got {value!r}")


def _kaggle_date(record: dict[str, Any]) -> str | None:
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
        if isinstance(created, str):
            return _rfc2822_date(created)
    updated = record.get("update_date")
    if isinstance(updated, str) and (match := _DATE.match(updated.strip())):
        return _checked_date(*match.groups(), "update_date")
    return None


def _rfc2822_date(text: str) -> str:
    """Parse "Mon, 2 Apr 2007 19:18:42 GMT" without depending on the process locale."""
    parts = text.replace(",", " ").split()
    if len(parts) >= 4 and parts[0].isalpha():
        parts = parts[1:]
    if len(parts) >= 3 and parts[0].isdigit() and parts[2].isdigit():
        month = _MONTHS.get(parts[1][:3].lower())
        if month is not None:
            return _checked_date(parts[2], str(month), parts[0], "versions[0].created")
    raise BadRecord(f"versions[0].created {text!r} is not a date like 'Mon, 2 Apr 2007 ...'")


def _checked_date(year: str, month: str, day: str, field: str) -> str:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        raise BadRecord(f"field {field!r} holds an impossible date") from None


def _year(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    year = None
    if isinstance(value, int) and not isinstance(value, bool):
        year = value
    elif isinstance(value, float) and value.is_integer():  # Parquet int columns with nulls
        year = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() \
            and len(value.strip()) <= 4:
        year = int(value.strip())
    if year is None or not 1 <= year <= 9999:
        raise BadRecord(f"field {field!r} should be a year, got {value!r}")
    return year
