"""Naming features and families: ids, labels, fuzzy labels, ambiguity, CLI edit strings."""

from __future__ import annotations

import pytest

from disentangle.errors import DisentangleError
from disentangle.search import Edit, FeatureResolver, down, parse_edit, up

LABELS = {5: "exoplanet atmospheres", 6: "exoplanet detection", 7: "galaxy clusters",
          8: "Gravitational lensing"}


@pytest.fixture()
def resolver() -> FeatureResolver:
    return FeatureResolver(48, LABELS, {"planets": [5, 6], 1: [7, 8]},
                           {"planets": "exoplanets", 1: "large-scale structure"})


def test_ids_exact_substring_and_fuzzy_labels(resolver):
    assert resolver.feature(12) == 12 and resolver.feature("12") == 12
    assert resolver.feature("Galaxy Clusters") == 7
    assert resolver.feature("lensing") == 8
    assert resolver.feature("gravitational lensng") == 8


def test_ambiguous_and_unknown_labels_are_errors_with_a_way_out(resolver):
    with pytest.raises(DisentangleError, match=r"ambiguous.*5: exoplanet atmospheres.*6:"):
        resolver.feature("exoplanet")
    with pytest.raises(DisentangleError, match="disentangle features find"):
        resolver.feature("dark matter halos")
    with pytest.raises(DisentangleError, match="does not exist"):
        resolver.feature(48)


def test_exact_label_then_a_non_duplicate_then_ask():
    labels = {1: "mediterranean sea", 2: "mediterranean sea (salinity)", 3: "authorship",
              4: "authorship attribution", 5: "mixed: authorship, corpus", 6: "dust",
              7: "dust grains"}
    resolver = FeatureResolver(10, labels, secondary={2, 5})
    assert resolver.feature("Mediterranean Sea") == 1
    assert resolver.feature("mediterranean sea salinity") == 2
    assert resolver.feature("mediterranean") == 1
    assert resolver.feature("attribution") == 4
    assert resolver.feature("dust") == 6
    with pytest.raises(DisentangleError, match=r"ambiguous.*3: authorship.*4: authorship attr"):
        resolver.feature("authorsh")


def test_families_by_key_and_label(resolver):
    removed = resolver.resolve(Edit("exoplanets", "remove", family=True))
    assert [e.feature for e in removed] == [5, 6]
    assert [e.feature for e in resolver.resolve(up("1", family=True))] == [7, 8]
    assert [e.feature for e in resolver.resolve(down("large scale", family=True))] == [7, 8]


def test_edit_strings_and_helpers():
    assert parse_edit("812:2.5") == Edit(812, "set", 2.5)
    assert parse_edit("galaxy clusters:x0.5") == Edit("galaxy clusters", "scale", 0.5)
    assert parse_edit("7:+0.3") == Edit(7, "add", 0.3)
    assert parse_edit("7:-0.3") == Edit(7, "add", -0.3)
    assert parse_edit("7:off") == Edit(7, "remove", 0.0)
    assert parse_edit("7:up2") == Edit(7, "raise", 2.0)
    assert down(7, 0.25) == Edit(7, "scale", 0.75)
    with pytest.raises(DisentangleError, match="FEATURE:VALUE"):
        parse_edit("812")
    with pytest.raises(DisentangleError, match="not a number"):
        parse_edit("812:lots")
