"""A steered search as a URL or a form spells it: bounded, validated, then turned into edits
and filters. The limits keep one request from tying up the machine."""

from __future__ import annotations

import math
from dataclasses import dataclass

from disentangle.errors import DisentangleError
from disentangle.search.edits import Edit, parse_edit, parse_target
from disentangle.search.filters import Filters
from disentangle.search.hybrid import AUTO, DEFAULT_BLEND, MAX_BLEND, PoolRule, parse_pool
from disentangle.search.steer import MODES

MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_EDITS = 32
MAX_FAMILY_EDITS = 8
MAX_EDIT_VALUE = 20.0
MAX_CATEGORIES = 10
LIMITS = {"query_chars": MAX_QUERY_CHARS, "k": MAX_K, "edits": MAX_EDITS,
          "family_edits": MAX_FAMILY_EDITS, "edit_value": MAX_EDIT_VALUE,
          "categories": MAX_CATEGORIES}
"""The bounds above by name, as a client is told them."""


@dataclass(frozen=True)
class SearchRequest:
    """A steered search as the URL spells it (``e``/``fe`` use ``parse_edit`` syntax)."""

    query: str
    k: int = 10
    edits: tuple[str, ...] = ()
    family_edits: tuple[str, ...] = ()
    years: str | None = None
    categories: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    mode: str = "residual"
    blend: float = DEFAULT_BLEND
    pool: str = AUTO
    """Which of the steered query's nearest documents the feature terms re-rank: ``auto``,
    a number, or ``0``/``all`` (see :func:`parse_pool`)."""

    def validate(self) -> None:
        """Bounds a client could exceed, as one clear message each (the API answers 422)."""
        if not self.query.strip() or len(self.query) > MAX_QUERY_CHARS:
            raise DisentangleError(f"the query must have 1 to {MAX_QUERY_CHARS} characters")
        if not 1 <= self.k <= MAX_K:
            raise DisentangleError(f"k must be between 1 and {MAX_K}, got {self.k}")
        if len(self.edits) > MAX_EDITS:
            raise DisentangleError(f"at most {MAX_EDITS} feature edits, got {len(self.edits)}")
        if len(self.family_edits) > MAX_FAMILY_EDITS:
            raise DisentangleError(
                f"at most {MAX_FAMILY_EDITS} family edits, got {len(self.family_edits)}")
        if len(self.categories) > MAX_CATEGORIES:
            raise DisentangleError(f"at most {MAX_CATEGORIES} categories")
        if self.mode not in MODES:
            raise DisentangleError(f"unknown mode {self.mode!r}; use {', '.join(MODES)}")
        if not (math.isfinite(self.blend) and 0.0 <= self.blend <= MAX_BLEND):
            raise DisentangleError(f"blend must be between 0 and {MAX_BLEND:g}")
        self.pool_rule()

    def pool_rule(self) -> PoolRule:
        return parse_pool(self.pool)

    def parsed_edits(self) -> list[Edit]:
        edits = [parse_edit(t) for t in self.edits]
        edits += [parse_edit(t, family=True) for t in self.family_edits]
        for edit in edits:
            if not math.isfinite(edit.value) or abs(edit.value) > MAX_EDIT_VALUE:
                raise DisentangleError(f"edit value {edit.value} for {edit.target!r} is out of "
                                       f"range; use values within ±{MAX_EDIT_VALUE:g}")
        return edits

    def filters(self) -> Filters | None:
        filters = Filters.from_cli(years=self.years, categories=self.categories,
                                   require=[parse_target(t) for t in self.require],
                                   exclude=[parse_target(t) for t in self.exclude])
        return None if filters.empty else filters
