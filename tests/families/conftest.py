"""Fixtures over the planted hierarchy of :mod:`planted`."""

from __future__ import annotations

import pytest

from disentangle.codes import SparseCodes

from .planted import NOISE, PLANTED, planted_codes


@pytest.fixture
def planted() -> tuple[SparseCodes, dict[int, list[int]]]:
    return planted_codes(PLANTED, 48, NOISE), PLANTED
