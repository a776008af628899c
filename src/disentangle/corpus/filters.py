"""Which papers of a loaded corpus to keep: by category, year, length, id, sample and limit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from disentangle.corpus.records import Row
from disentangle.errors import DisentangleError

_YEAR_RANGE = re.compile(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?")
_CATEGORY_TERM = re.compile(r"[A-Za-z][A-Za-z0-9.-]*")


@dataclass(frozen=True)
class CorpusFilter:
    """Selection applied while loading; the defaults keep everything.

    A category term matches a category equal to it or nested under it ("astro-ph" matches
    "astro-ph.GA", "cs" matches "cs.LG"), so whole archives can be picked with one word.
    ``sample`` draws that many rows after the other filters (seeded); ``limit`` then keeps
    the first rows.
    """

    categories: tuple[str, ...] = ()
    primary_only: bool = False
    years: tuple[int, int] | None = None
    min_abstract_chars: int = 0
    ids: frozenset[str] | None = None
    sample: int | None = None
    limit: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("sample", "limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise DisentangleError(
                    f"{name} must be at least 1, got {value}; pass a positive number"
                )
        for term in self.categories:
            if not _CATEGORY_TERM.fullmatch(term):
                raise DisentangleError(
                    f"category {term!r} is not a category name; categories match as prefixes "
                    "without wildcards, e.g. --categories astro-ph,cs.LG (astro-ph matches "
                    "astro-ph.GA)"
                )
        if self.years is not None and self.years[0] > self.years[1]:
            raise DisentangleError(
                f"year range {self.years[0]}-{self.years[1]} is reversed; write it as start-end"
            )

    def keeps(self, row: Row) -> bool:
        """Whether ``row`` passes the per-row filters (everything except sample and limit)."""
        if self.ids is not None and row.id not in self.ids:
            return False
        if len(row.abstract) < self.min_abstract_chars:
            return False
        if self.years is not None and (
            row.year is None or not self.years[0] <= row.year <= self.years[1]
        ):
            return False
        if self.categories:
            candidates = [row.primary_category] if self.primary_only else row.categories
            return any(_matches(term, c) for term in self.categories for c in candidates)
        return True


def _matches(term: str, category: str) -> bool:
    return category == term or category.startswith(term + ".")


def parse_year_range(text: str) -> tuple[int, int]:
    """Parse "2010-2017" or "2015" into an inclusive (start, end) pair."""
    match = _YEAR_RANGE.fullmatch(text)
    if match is None:
        raise DisentangleError(
            f"year range {text!r} is not understood; write one year (2015) or a range (2010-2017)"
        )
    start = int(match.group(1))
    end = int(match.group(2) or start)
    if start > end:
        raise DisentangleError(f"year range {text!r} is reversed; write it as start-end")
    return start, end


def read_id_list(path: Path) -> frozenset[str]:
    """The ids of an ``--ids`` file, one per line (blank lines ignored)."""
    if not path.is_file():
        raise DisentangleError(f"id list {path} does not exist; pass an existing --ids file")
    ids = set()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise DisentangleError(f"{path}: line {number} is not UTF-8 text; the --ids file "
                                       "must be UTF-8 text with one id per line") from None
            if line:
                ids.add(line)
    return frozenset(ids)
