"""Ground-truth steering benchmark: feature edits versus rewriting the query text.

No LLM judge: arXiv categories are the relevance labels. For every query of a set:

- **raise**: one feature absent from the query is raised. The feature is chosen once per set
  by a documented rule (:func:`target_feature`): among features of moderate density, the one
  whose active documents are most concentrated in the set's target category (e.g. astro-ph.EP
  for "exoplanets"). Measured: fraction of the top 10 where the feature is active, precision
  of the target category, and *retention* of the query's own category (the control: the edit
  should add a topic, not erase the query's).
- **lower**: the query's strongest feature is removed. Measured: the fraction of the top 10
  where it is still active.

Both are compared with the text baseline (append the feature's label / "without <label>" and
re-embed), at *matched drift*: the raise strength is bisected so that the steered query's
cosine to the original equals the rewritten query's, so neither method wins by moving further.
Every number comes from real retrievals over the index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.errors import DisentangleError
from disentangle.search.edits import Edit
from disentangle.search.searcher import Searcher
from disentangle.search.steer import SteerMode

TOP = 10
DENSITY_RANGE = (0.002, 0.05)
"""Target features are neither rare (unreliable) nor generic (not a topic)."""


@dataclass(frozen=True)
class QuerySet:
    name: str
    queries: tuple[tuple[str, str], ...]
    """``(query, the query's own category)`` pairs."""
    target_category: str
    target_phrase: str
    """What the baseline appends when the target feature has no label."""


def load_query_set(name: str) -> QuerySet:
    """A bundled set (``"astro"``, ``"ml"``) or a JSON file of the same shape."""
    if name.endswith(".json"):
        with open(name, encoding="utf-8") as handle:
            body = json.load(handle)
    else:
        path = resources.files("disentangle.search").joinpath("queries", f"{name}.json")
        if not path.is_file():
            raise DisentangleError(f"no query set {name!r}; use astro, ml or a .json file")
        body = json.loads(path.read_text(encoding="utf-8"))
    return QuerySet(name, tuple((q["query"], q["category"]) for q in body["queries"]),
                    body["target_category"], body["target_phrase"])


def target_feature(searcher: Searcher, category: str,
                   density_range: tuple[float, float] = DENSITY_RANGE) -> int:
    """The moderate-density feature whose active documents are most often in ``category``
    (ties: the denser one). Judging all active documents, not a top few, avoids picking a
    narrow feature that is pure only by chance."""
    in_category = searcher.metadata.category_mask([category]).astype(np.float64)
    active = searcher.features.matrix.copy()
    active.data[:] = 1.0
    counts = np.diff(active.indptr)
    precision = np.divide(active.T @ in_category, counts, out=np.zeros(len(counts)),
                          where=counts > 0)
    density = searcher.features.density
    lo, hi = density_range
    eligible = (density >= lo) & (density <= hi)
    if not eligible.any():
        raise DisentangleError(f"no feature has density in {density_range}; train a larger SAE")
    order = np.lexsort((-density, -np.where(eligible, precision, -1.0)))
    return int(order[0])


@dataclass
class _Measure:
    searcher: Searcher
    in_target: np.ndarray

    def __call__(self, vector: np.ndarray, x: np.ndarray, before: np.ndarray, feature: int,
                 own: np.ndarray) -> dict[str, float]:
        rows = self.searcher.rank(vector, TOP)[1]
        codes = self.searcher.codes
        active = (codes.indices[rows] == feature) & (codes.values[rows] > 0)
        return {
            "drift": float(vector @ x / np.linalg.norm(vector)),
            "feature_active": float(active.any(axis=1).mean()),
            "target_precision": float(self.in_target[rows].mean()),
            "own_precision": float(own[rows].mean()),
            "overlap": len(set(rows.tolist()) & set(before.tolist())) / TOP,
            "mean_cosine_to_query": float(
                np.asarray(self.searcher.embeddings[np.sort(rows)], np.float32).dot(x).mean()),
        }


def evaluate_steering(
    searcher: Searcher,
    query_set: QuerySet,
    mode: SteerMode = "residual",
    label: str | None = None,
    density_range: tuple[float, float] = DENSITY_RANGE,
) -> tuple[pa.Table, dict[str, Any]]:
    """One row per (query, operation, method) and a summary of means per operation/method.

    ``label`` overrides the text the baseline uses for the target feature.
    """
    feature = target_feature(searcher, query_set.target_category, density_range)
    phrase = label or searcher.resolver.label(feature) or query_set.target_phrase
    measure = _Measure(searcher, searcher.metadata.category_mask([query_set.target_category]))
    records: list[dict[str, Any]] = []
    for text, category in query_set.queries:
        own = searcher.metadata.category_mask([category])
        x, code, _ = searcher.steer(text, mode=mode)
        before = searcher.rank(x, TOP)[1]
        base = {"query": text, "category": category}
        unsteered = measure(x, x, before, feature, own)
        if feature not in code:
            rewrite = searcher.embed(f"{text} {phrase}")
            strength = _matched_strength(searcher, text, feature, float(rewrite @ x), mode)
            steered = searcher.steer(text, [Edit(feature, "raise", strength)], mode)[2].vector
            for method, vector in (("feature", steered), ("text", rewrite)):
                after = measure(vector, x, before, feature, own)
                records.append({**base, "op": "raise", "method": method, "feature": feature,
                                "strength": strength if method == "feature" else None,
                                **_delta(unsteered, after)})
        own_top = max(code, key=code.__getitem__)
        own_label = searcher.resolver.label(own_top) or _title_phrase(searcher, own_top)
        unsteered_own = measure(x, x, before, own_top, own)
        lowered = searcher.steer(text, [Edit(own_top, "remove")], mode)[2].vector
        rewrite = searcher.embed(f"{text} without {own_label}")
        for method, vector in (("feature", lowered), ("text", rewrite)):
            after = measure(vector, x, before, own_top, own)
            records.append({**base, "op": "lower", "method": method, "feature": own_top,
                            "strength": None, **_delta(unsteered_own, after)})
    table = pa.Table.from_pylist(records)
    return table, _summary(table, query_set, feature, phrase, mode)


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {"drift": after["drift"],
            "active_before": before["feature_active"], "active_after": after["feature_active"],
            "target_p10_before": before["target_precision"],
            "target_p10_after": after["target_precision"],
            "own_p10_before": before["own_precision"], "own_p10_after": after["own_precision"],
            "overlap": after["overlap"], "mean_cosine_to_query": after["mean_cosine_to_query"]}


def _matched_strength(searcher: Searcher, text: str, feature: int, drift: float,
                      mode: SteerMode, steps: int = 12) -> float:
    """Raise strength whose steered drift equals ``drift`` (bisection; drift falls with it)."""
    lo, hi = 0.0, 8.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        steered = searcher.steer(text, [Edit(feature, "raise", mid)], mode)[2]
        lo, hi = (mid, hi) if steered.drift > drift else (lo, mid)
    return (lo + hi) / 2


def _title_phrase(searcher: Searcher, feature: int) -> str:
    """Stand-in label for an unlabelled feature: its strongest document's title."""
    return searcher.feature_info(feature).top_titles[0]


def _summary(table: pa.Table, query_set: QuerySet, feature: int, phrase: str,
             mode: str) -> dict[str, Any]:
    rows = table.to_pylist()
    groups: dict[str, dict[str, float]] = {}
    for op in ("raise", "lower"):
        for method in ("feature", "text"):
            chosen = [r for r in rows if r["op"] == op and r["method"] == method]
            if not chosen:
                continue
            keys = [k for k, v in chosen[0].items() if isinstance(v, float) and k != "strength"]
            groups[f"{op}/{method}"] = {"queries": len(chosen), **{
                k: round(float(np.mean([r[k] for r in chosen])), 4) for k in keys}}
    return {"set": query_set.name, "mode": mode, "target_category": query_set.target_category,
            "raised_feature": feature, "raised_label": phrase, "results": groups}


def summary_markdown(summaries: Sequence[dict[str, Any]]) -> str:
    """One markdown row per set/operation/method, for reports and ``disentangle eval``."""
    columns = ["queries", "drift", "active_before", "active_after", "target_p10_before",
               "target_p10_after", "own_p10_before", "own_p10_after", "overlap",
               "mean_cosine_to_query"]
    lines = ["| set | op/method | " + " | ".join(columns) + " |",
             "| --- | --- | " + " | ".join("---" for _ in columns) + " |"]
    for summary in summaries:
        for group, values in summary["results"].items():
            cells = [f"{values[c]:.3f}" if isinstance(values[c], float) else str(values[c])
                     for c in columns]
            lines.append(f"| {summary['set']} | {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
