"""Family names from member labels: an offline heuristic, or any labeller you plug in (LLM)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

from disentangle.families.extract import Family

Labeller = Callable[[str, list[str]], str]
"""``(parent_label, child_labels) -> family label``; an LLM client fits this signature."""

_STOPWORDS = frozenset({
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the",
    "to", "with", "via", "using", "based", "its", "their",
})


def _words(label: str) -> list[str]:
    """Content words of what a label asserts: a contrastive "A (not B)" label describes the
    family by A only, so B's words (and "not") never make a family name."""
    asserted = _CONTRAST.sub("", label.lower())
    return [w for w in re.findall(r"[a-z0-9][a-z0-9\-]*", asserted) if w not in _STOPWORDS]


_CONTRAST = re.compile(r"\(\s*not\b[^)]*\)")


def label_family(parent_label: str, child_labels: list[str]) -> str:
    """Words shared by at least half of the member labels (and at least two), most shared
    first; otherwise the parent's label, since the parent is the densest, broadest member.

    Honest about its limits: it can only echo words the members already use.
    """
    labels = [parent_label, *child_labels]
    counts = Counter(w for label in labels for w in dict.fromkeys(_words(label)))
    need = max(2, (len(labels) + 1) // 2)
    first_seen = {w: i for i, w in enumerate(dict.fromkeys(w for lb in labels for w in _words(lb)))}
    shared = sorted((w for w, c in counts.items() if c >= need),
                    key=lambda w: (-counts[w], first_seen[w]))
    return " ".join(shared[:4]) if shared else _CONTRAST.sub("", parent_label).strip()


def label_families(
    families: Sequence[Family],
    feature_labels: Sequence[str],
    labeller: Labeller = label_family,
) -> list[str]:
    """Label every family from its members' labels (indexed by feature id); sets
    ``Family.label`` too, so ``families_table`` carries it."""
    names = []
    for family in families:
        family.label = labeller(feature_labels[family.parent],
                                [feature_labels[c] for c in family.children])
        names.append(family.label)
    return names
