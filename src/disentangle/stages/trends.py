"""Which features (or families) rise and fall over the years, and which belong to which
arXiv category: prevalence from the codes and the corpus metadata.

Outputs go to ``<workspace>/saes/<name>/trends/``: a per-column table (parquet), the
prevalence matrix in long form, and a figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from scipy import sparse

from disentangle.errors import DisentangleError
from disentangle.families import (
    category_groups,
    families_from_table,
    family_activations,
    prevalence,
    top_trends,
    trends_table,
    year_groups,
)
from disentangle.io import write_parquet
from disentangle.stages.families import label_list
from disentangle.stages.readers import codes as stored_codes
from disentangle.workspace import Workspace

By = Literal["year", "category"]
MIN_CATEGORY_DOCS = 200
"""Categories with fewer documents are left out of the category view (too noisy)."""
MIN_SUPPORT = 20
"""Documents of a category where a column must fire before it can be that category's top."""


@dataclass
class TrendsReport:
    name: str
    by: By
    unit: str
    """"feature" or "family"."""
    documents: int
    rising: list[dict[str, Any]] = field(default_factory=list)
    falling: list[dict[str, Any]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    """Per category: documents and its most over-represented columns (``--by category``)."""
    paths: list[Path] = field(default_factory=list)


def _activity(workspace: Workspace, name: str, use_families: bool) -> tuple[
        sparse.csr_matrix, list[str]]:
    """Documents × columns activity and a label per column (features or families)."""
    codes = stored_codes(workspace, name)
    if use_families:
        fams = families_from_table(workspace.sae_folder(name).families())
        return family_activations(codes, fams), [f.label or f"#{f.parent}" for f in fams]
    labels = label_list(workspace, name, codes.n_features) or [
        f"#{i}" for i in range(codes.n_features)]
    return codes.to_csr(), labels


def trends(
    workspace: Workspace,
    name: str | None = None,
    *,
    by: By = "year",
    use_families: bool = False,
    years: tuple[int, int] | None = None,
    top: int = 10,
) -> TrendsReport:
    """Prevalence by year (with the fastest rising and falling columns) or by category."""
    name = workspace.resolve_sae(name)
    activity, labels = _activity(workspace, name, use_families)
    corpus = workspace.corpus()
    keep = np.ones(corpus.num_rows, bool)
    year = np.asarray(corpus.column("year").to_numpy(zero_copy_only=False), dtype=float)
    if years is not None:
        keep = (year >= years[0]) & (year <= years[1])
    if by == "year":
        keep &= np.isfinite(year)
    if not keep.any():
        raise DisentangleError("no document falls in the chosen years; widen --years")
    activity = activity[np.flatnonzero(keep)]
    unit = "family" if use_families else "feature"
    report = TrendsReport(name, by, unit, int(keep.sum()))
    paths = workspace.sae_folder(name).trend_paths(
        f"{'families' if use_families else 'features'}-by-{by}")
    if by == "year":
        _by_year(report, activity, year[keep].astype(int), labels, paths, top)
    elif by == "category":
        cats = corpus.column("categories").to_pylist()
        _by_category(report, activity, [cats[i] for i in np.flatnonzero(keep)], labels,
                     paths, top)
    else:
        raise DisentangleError(f"cannot group by {by!r}; use year or category")
    return report


def _row(column: int, label: str, **values: float) -> dict[str, Any]:
    return {"column": column, "label": label, **values}


def _by_year(report: TrendsReport, activity: sparse.csr_matrix, years: np.ndarray,
             labels: list[str], paths: tuple[Path, Path, Path], top: int) -> None:
    from disentangle.families import plots  # matplotlib only where figures are drawn

    table_path, prevalence_path, figure = paths
    table = trends_table(activity, years)
    table = table.append_column("label", pa.array(labels, pa.string()))
    values, groups = year_groups(years)
    prev, docs = prevalence(activity, groups)
    rising, falling = top_trends(table, top)
    slope = table.column("slope").to_numpy(zero_copy_only=False)
    mean = table.column("mean_prevalence").to_numpy()
    for target, ids in ((report.rising, rising), (report.falling, falling)):
        target.extend(_row(c, labels[c], slope=float(slope[c]), mean_prevalence=float(mean[c]),
                           first=float(prev[0, c]), last=float(prev[-1, c])) for c in ids)
    write_parquet(table_path, table)
    long = pa.table({"year": pa.array(np.repeat(values, prev.shape[1])),
                     "documents": pa.array(np.repeat(docs, prev.shape[1]).astype(np.int64)),
                     "column": pa.array(np.tile(np.arange(prev.shape[1]), len(values))),
                     "prevalence": pa.array(prev.ravel())})
    write_parquet(prevalence_path, long)
    plots.plot_trends(values, prev, {"fastest rising": rising[:5], "fastest falling": falling[:5]},
                figure, labels)
    report.paths += [table_path, prevalence_path, figure]


def _by_category(report: TrendsReport, activity: sparse.csr_matrix, categories: list[list[str]],
                 labels: list[str], paths: tuple[Path, Path, Path], top: int) -> None:
    """Per category with enough documents, the columns most over-represented in it (lift =
    prevalence in the category / prevalence overall)."""
    names, groups = category_groups(categories)
    prev, docs = prevalence(activity, groups)
    overall = np.asarray((activity != 0).mean(axis=0)).ravel()
    lift = np.divide(prev, overall, out=np.zeros_like(prev), where=overall > 0)
    big = [j for j in np.argsort(-docs, kind="stable") if docs[j] >= MIN_CATEGORY_DOCS][:12]
    if not big:
        raise DisentangleError(f"no category has {MIN_CATEGORY_DOCS} documents; use --by year")
    shown: list[int] = []
    rows = []
    for j in big:
        eligible = prev[j] * docs[j] >= MIN_SUPPORT
        order = [int(c) for c in np.argsort(-np.where(eligible, lift[j], -1), kind="stable")
                 if eligible[c]][:top]
        report.categories.append({"category": names[j], "documents": int(docs[j]), "top": [
            _row(c, labels[c], prevalence=float(prev[j, c]), lift=float(lift[j, c]))
            for c in order]})
        shown += [c for c in order[:2] if c not in shown]
        rows += [{"category": names[j], "documents": int(docs[j]), **row}
                 for row in report.categories[-1]["top"]]
    from disentangle.families import plots  # matplotlib only where figures are drawn

    table_path, _, figure = paths
    write_parquet(table_path, pa.Table.from_pylist(rows))
    plots.plot_category_prevalence(prev[big], [names[j] for j in big], shown, figure, labels)
    report.paths += [table_path, figure]
