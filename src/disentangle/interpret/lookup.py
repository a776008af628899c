"""Finding features by label and showing one, for the ``features find`` / ``show`` commands."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from disentangle.errors import DisentangleError

KEYWORD_MATCH = 0.9
"""Rank of a hit in a feature's keywords: below a label hit, above most fuzzy hits."""


def find_features(table: pa.Table, text: str, limit: int = 20) -> pa.Table:
    """Features whose label matches ``text``: substring hits first, then keyword hits, then
    fuzzy word matches.

    Fuzzy matching compares each query word with each label word (difflib ratio ≥ 0.8), so
    "galaxys clusters" finds "galaxy clusters". Rows keep the table's columns plus ``match``
    (1.0 for a substring hit, ``KEYWORD_MATCH`` for a keyword hit, else the mean best word
    similarity).
    """
    query = text.lower().strip()
    words = query.split()
    labels = [str(label).lower() for label in table.column("label").to_pylist()]
    keywords = (table.column("keywords").to_pylist() if "keywords" in table.column_names
                else [[]] * len(labels))
    match = np.zeros(len(labels))
    for position, label in enumerate(labels):
        if query and query in label:
            match[position] = 1.0
        elif query and any(query in word.lower() for word in keywords[position] or ()):
            match[position] = KEYWORD_MATCH
        elif words and label:
            best = [max(difflib.SequenceMatcher(None, w, lw).ratio() for lw in label.split())
                    for w in words]
            match[position] = float(np.mean(best)) if min(best) >= 0.8 else 0.0
    order = [int(i) for i in np.argsort(-match, kind="stable") if match[i] > 0][:limit]
    return table.take(order).append_column("match", pa.array(match[order]))


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
    """
    flags = [name for name, on in (("clean", row["clean"]), ("clean strict", row["clean_strict"]),
                                   ("generic", row["generic"]),
                                   ("label failed", row["label_failed"])) if on]
    if row["duplicate_of"] >= 0:
        flags.append(f"duplicate of {row['duplicate_of']}")
    if row.get("mixed"):
        flags.append("mixed: its top abstracts share no topic")
    lines = [
        f"feature {row['feature']}: {row['label'] or '(no label)'}"
        + (f"  [{', '.join(flags)}]" if flags else ""),
        *([f"  keywords: {', '.join(row['keywords'])}"] if row.get("keywords") else []),
        *([f"  not to be confused with: {row['contrast']}"] if row.get("contrast") else []),
        f"  backend {row['backend']}; density {row['density']:.4f}; "
        f"mean activation {row['mean_activation']:.3f}",
        f"  held-out ({row['n_scored']} docs, {row['n_scored_active']} active, with hard "
        f"negatives): Pearson {row['pearson']:.3f}, F1 {row['f1']:.3f}",
        f"  paper's 3+3 design: Pearson {row['pearson_balanced']:.3f}, "
        f"F1 {row['f1_balanced']:.3f}",
    ]
    if row["evidence"]:
        lines.append(f"  evidence: {row['evidence'][:400]}")
    for value, title in zip(row["top_values"], top_titles, strict=False):
        lines.append(f"  {value:7.3f}  {title}")
    return "\n".join(lines)
