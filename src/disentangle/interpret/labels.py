"""Label clean-up: generic labels say nothing, and two features with one label are one concept.

A generic label ("topic", "research", "machine learning concept") cannot be clean however it
scores. Identical labels (after normalising case, punctuation and word order) are flagged on
every feature but the best-scored one, which the families stage and users can then merge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain, count

import numpy as np

GENERIC_WORDS = frozenset({
    "keyword", "keywords", "topic", "topics", "concept", "concepts", "theme", "themes",
    "subject", "research", "science", "scientific", "paper", "papers", "study", "studies",
    "abstract", "abstracts", "general", "various", "miscellaneous", "unknown", "none", "n/a",
    "other", "misc", "field", "area", "domain", "related", "stuff", "things",
})
"""Words that carry no content in a label; a label of only these (and fillers) is generic."""

_FILLER = frozenset({"a", "an", "the", "of", "and", "or", "in", "on", "for", "to", "with"})


def normalise(label: str) -> str:
    """Case-, punctuation- and order-insensitive form of a label, for finding duplicates."""
    words = re.findall(r"[a-z0-9]+", label.lower())
    return " ".join(sorted(w for w in words if w not in _FILLER))


def is_generic(label: str) -> bool:
    words = re.findall(r"[a-z0-9/]+", label.lower())
    return not [w for w in words if w not in GENERIC_WORDS and w not in _FILLER]


def duplicate_of(labels: Sequence[str], quality: np.ndarray, features: np.ndarray,
                 mixed: np.ndarray | None = None) -> np.ndarray:
    """Per feature, the feature id holding the same label with the best quality, or -1.

    The best-scored holder of a label gets -1 (it is the one kept); ties go to the lower id.
    A feature ``mixed`` but shown by a phrase never takes that phrase from one it names: a
    reader typing it means the named one.
    """
    named = np.ones(len(labels), bool) if mixed is None else ~np.asarray(mixed, bool)
    result = np.full(len(labels), -1, np.int64)
    holders: dict[str, list[int]] = {}
    for position, label in enumerate(labels):
        key = normalise(label)
        if key:
            holders.setdefault(key, []).append(position)
    for positions in holders.values():
        if len(positions) < 2:
            continue
        best = max(positions, key=lambda p: (named[p], np.nan_to_num(quality[p], nan=-np.inf),
                                             -features[p]))
        for position in positions:
            if position != best:
                result[position] = features[best]
    return result


def disambiguate(labels: Sequence[str], alternatives: Sequence[Sequence[str]],
                 duplicates: np.ndarray) -> list[str]:
    """Labels made unique: a feature whose label another one keeps (``duplicates`` ≥ 0)
    becomes "label (alternative)" with its best alternative (a phrase many of its own top
    documents hold) not yet taken, else "label (2)", "label (3)", … The label stays in front
    (the feature shares its keeper's topic: an alternative alone names a facet of it, such as
    "singular value" for matrix completion); a keyword that only some weaker documents
    hold may name another topic; a feature id means nothing to a reader (labels are shown to
    blind judges)."""
    taken = {normalise(label) for label, other in zip(labels, duplicates, strict=True)
             if other < 0 and label}
    result = []
    for label, names, other in zip(labels, alternatives, duplicates, strict=True):
        if other < 0 or not label:
            result.append(label)
            continue
        options = chain((f"{label} ({name})" for name in names or ()),
                        (f"{label} ({n})" for n in count(2)))
        chosen = next(o for o in options if normalise(o) not in taken)
        taken.add(normalise(chosen))
        result.append(chosen)
    return result
