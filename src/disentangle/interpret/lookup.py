"""Showing one labelled feature, for the ``features show`` command."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.errors import DisentangleError
from disentangle.interpret.offline import MIXED
from disentangle.interpret.runner import CleanCriteria
from disentangle.interpret.scoring import TOP_COHESION_DOCUMENTS, TOP_FIT_DOCUMENTS

KEYWORD_MATCH = 0.9
"""Rank of a hit in a feature's keywords: below a label hit, above most fuzzy hits."""


def feature_row(table: pa.Table, feature: int) -> dict:
    hits = np.flatnonzero(table.column("feature").to_numpy() == feature)
    if not len(hits):
        raise DisentangleError(
            f"feature {feature} has no label; run `disentangle interpret` for it first"
        )
    return table.slice(int(hits[0]), 1).to_pylist()[0]


def format_feature(row: dict, top_titles: Sequence[str] = ()) -> str:
    """A feature as text: label, scores on both designs, flags, evidence, top documents.

    ``top_titles`` are the caller's titles (or ids) for ``row["top_rows"]``, in that order.
    A row of a table written before ``interpretable`` and ``top_fit`` existed shows without
    them.
    """
    flags = [name for name, on in (("clean", row["clean"]), ("clean strict", row["clean_strict"]),
                                   ("interpretable", row.get("interpretable") and not row["clean"]),
                                   ("generic", row["generic"]),
                                   ("label failed", row["label_failed"])) if on]
    if row["duplicate_of"] >= 0:
        flags.append(f"duplicate of {row['duplicate_of']}")
    if row.get("mixed"):
        flags.append("mixed: " + (
            "its strongest abstracts share a topic; this phrase covers only some of its top "
            "abstracts" if not row["label"].startswith(f"{MIXED}:")
            else "its top abstracts share a topic no phrase of theirs names" if _topical(row)
            else "its top abstracts share no topic"))
    if row.get("lexical"):
        flags.append("lexical: its top abstracts share this word, not a topic")
    lines = [
        f"feature {row['feature']}: {row['label'] or '(no label)'}"
        + (f"  [{', '.join(flags)}]" if flags else ""),
        *([f"  keywords: {', '.join(row['keywords'])}"] if row.get("keywords") else []),
        *([f"  not to be confused with: {row['contrast']}"] if row.get("contrast") else []),
        f"  backend {row['backend']}; density {row['density']:.4f}; "
        f"mean activation {row['mean_activation']:.3f}"
        + (f"; topic coherence {row['topic_coherence']:.1f}× random"
           if _finite(row.get("topic_coherence")) else ""),
        f"  held-out ({row['n_scored']} docs, {row['n_scored_active']} active, with hard "
        f"negatives): Pearson {row['pearson']:.3f}, F1 {row['f1']:.3f}",
        f"  paper's 3+3 design: Pearson {row['pearson_balanced']:.3f}, "
        f"F1 {row['f1_balanced']:.3f}",
        *([f"  fit with its {TOP_FIT_DOCUMENTS} strongest documents: {row['top_fit']:.1f} "
           f"(clean needs {CleanCriteria().min_top_fit:g})"] if _finite(row.get("top_fit"))
          else []),
        *([f"  its {TOP_COHESION_DOCUMENTS} strongest documents are {row['top_cohesion']:.2f}× as "
           f"alike as usual at its density (a one-word clean label needs "
           f"{CleanCriteria().min_word_cohesion:g})"] if _finite(row.get("top_cohesion"))
          else []),
    ]
    if row["evidence"]:
        lines.append(f"  evidence: {row['evidence'][:400]}")
    for value, title in zip(row["top_values"], top_titles, strict=False):
        lines.append(f"  {value:7.3f}  {title}")
    return "\n".join(lines)


def _topical(row: dict) -> bool:
    """Whether a feature's top documents are as coherent as a named feature's must be. A
    mixed feature that passes has a topic no single phrase covers: judges rejected or only
    partly accepted "mixed" on all 6 such features they saw, and accepted it on 15 of the 21
    below the bar (docs/labels.md, seventh round)."""
    relative = row.get("relative_coherence")
    return _finite(relative) and relative >= CleanCriteria().min_relative_coherence


def _finite(value: float | None) -> bool:
    """A score is shown when present and not NaN (0 is a score)."""
    return value is not None and math.isfinite(value)


def scalar_scores(table: pa.Table) -> dict[int, dict[str, Any]]:
    """Per feature, the scalar columns of the features table (lists and the label dropped;
    NaN, which JSON lacks, as None): what a feature page lists as its scores."""
    keep = [name for name, kind in zip(table.column_names, table.schema.types, strict=True)
            if name not in ("feature", "label") and not pa.types.is_list(kind)
            and not pa.types.is_large_list(kind)]
    rows = table.select(keep).to_pylist()
    return {int(f): {k: None if isinstance(v, float) and not math.isfinite(v) else v
                     for k, v in row.items()}
            for f, row in zip(table.column("feature").to_pylist(), rows, strict=True)}


def keywords_by_feature(table: pa.Table) -> dict[int, list[str]]:
    """The keywords shown beside each label (none from back ends that give none)."""
    if "keywords" not in table.column_names:
        return {}
    return {int(f): list(k or []) for f, k in zip(table.column("feature").to_pylist(),
                                                   table.column("keywords").to_pylist(),
                                                   strict=True)}
