"""``disentangle families build|list|show``, ``disentangle compare`` and ``disentangle trends``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from disentangle import stages
from disentangle.cli.options import (
    DEFAULT_WORKSPACE,
    SaeOption,
    WorkspaceOption,
    top_rows,
    writes_workspace,
)
from disentangle.cli.progress import console, progress_bar
from disentangle.corpus import parse_year_range
from disentangle.families import DEFAULT_THRESHOLD
from disentangle.families.matching import PERSIST_COSINE
from disentangle.workspace import Workspace

families_app = typer.Typer(help="Feature families: build, list, show.", no_args_is_help=True)
FAMILY_SORTS = ("size", "pearson", "family")
SHARED_INIT = 0.5
"""Above this share of same-index best matches, ``compare`` warns of a shared init."""


@families_app.command("build")
@writes_workspace("families build")
def build(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    threshold: Annotated[float, typer.Option(
        help="Drop co-occurrence edges weaker than this before the spanning tree.")
    ] = DEFAULT_THRESHOLD,
    iterations: Annotated[int, typer.Option(
        help="Times the tree is rebuilt without the roots found so far.")] = 3,
    variant: Annotated[str, typer.Option(
        help="count (0/1 co-occurrence) or activation (cosine of activation profiles).")
    ] = "count",
    all_features: Annotated[bool, typer.Option(
        help="Use every live feature with density < 0.2, not only interpretable ones.")] = False,
    score: Annotated[bool, typer.Option(
        help="Score each family label on held-out documents (offline, label embedding).")
    ] = True,
) -> None:
    """Build feature families from co-occurrence; label and score them."""
    ws = Workspace.open(workspace)
    with ExitStack() as stack:
        bar: Callable[[int, int], None] | None = None

        def update(done: int, total: int) -> None:
            """Open the bar on the first scored batch, so runs that score nothing show none."""
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(progress_bar("scoring families", unit="families"))
            bar(done, total)

        report = stages.build_families(ws, sae, threshold=threshold, iterations=iterations,
                                    variant=variant, all_features=all_features,  # type: ignore[arg-type]
                                    score=score, on_progress=update)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    stats = stages.families_summary(report.table)
    pearson = stats["mean_pearson"]
    console.print(
        f"{report.name}: {stats['families']} families from {report.candidates} features; "
        f"median size {stats['median_size']:g} (max {stats['max_size']}); "
        f"by depth {_counts(stats['depths'])}; by iteration {_counts(stats['iterations'])}"
        + (f"; mean Pearson {pearson:.2f}" if pearson is not None else ""))
    console.print("wrote " + ", ".join(str(p) for p in report.paths))


def _counts(counts: dict[int, int]) -> str:
    return " ".join(f"{key}:{value}" for key, value in counts.items()) or "-"


@families_app.command("list")
def list_families(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    sort: Annotated[str, typer.Option(help=f"One of {', '.join(FAMILY_SORTS)}.")] = "size",
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 30,
) -> None:
    """List families with their size, depth and scores."""
    name, table = stages.load_families(Workspace.open(workspace), sae)
    total = table.num_rows
    table = top_rows(table, sort, FAMILY_SORTS, limit, ascending_column="family")
    shown = Table(title=f"{name}: {total} families, sorted by {sort}",
                  title_justify="left")
    for column, justify in (("family", "right"), ("label", "left"), ("parent", "right"),
                            ("size", "right"), ("depth", "right"), ("iter", "right"),
                            ("density", "right"), ("Pearson", "right"), ("F1", "right")):
        shown.add_column(column, justify=justify, no_wrap=column != "label",  # type: ignore[arg-type]
                         min_width=20 if column == "label" else None)
    for row in table.to_pylist():
        shown.add_row(str(row["family"]), row["label"] or "", str(row["parent"]),
                      str(row["size"]), str(row["depth"]), str(row["iteration"]),
                      f"{row['density']:.4f}", _score(row["pearson"]), _score(row["f1"]))
    console.print(shown)


def _score(value: float | None) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.2f}"


@families_app.command("show")
def show_family(
    family: Annotated[int, typer.Argument(help="Family id (see `families list`).")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
) -> None:
    """One family: its parent, its children with densities, its top documents."""
    view = stages.describe(Workspace.open(workspace), family, sae)
    row = view.row
    lines = [f"family {row['family']}: {row['label']}",
             f"  parent #{row['parent']} {view.parent_label} (density {row['density']:.4f}); "
             f"depth {row['depth']}, iteration {row['iteration']}, {row['size']} children; "
             f"Pearson {_score(row['pearson'])}, F1 {_score(row['f1'])}",
             "  children (best-nested first, densest first if unlabelled; * = direct child):"]
    lines += [f"    {'*' if direct else ' '} #{feature} {label} (density {density:.4f})"
              for feature, label, density, direct in view.children]
    lines.append("  top documents (summed member activation):")
    lines += [f"    - {title}" for title in view.top_titles]
    console.print("\n".join(lines), highlight=False, markup=False)


@writes_workspace("compare")
def compare(
    saes: Annotated[list[str], typer.Argument(help="SAE names, e.g. n1536-k32 n3072-k32.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    threshold: Annotated[float, typer.Option(
        help="Best-match cosine at which a feature counts as persisting.")] = PERSIST_COSINE,
) -> None:
    """Match features across SAE sizes (splits, chains) and across seeds (stability)."""
    result = stages.compare(Workspace.open(workspace), saes, threshold)
    for pair in result.pairs:
        console.print(
            f"{pair['small']} → {pair['large']}: mean best-match cosine {pair['mean']:.3f} "
            f"(median {pair['median']:.3f}); {pair['persisting']}/{pair['features']} "
            f"({pair['persisting'] / pair['features']:.1%}) persist at ≥ {threshold}, "
            f"{pair['new']} new; {pair['split_small']} of {pair['small']} split, "
            f"{pair['unmatched_small']} unmatched", highlight=False)
        if pair["same_index"] > SHARED_INIT:
            console.print(f"[yellow]note:[/] {pair['same_index']:.0%} of the first "
                          f"{pair['small']}-sized block match their own index: the two SAEs "
                          "share their random initialisation (same seed), so these matches "
                          "partly reflect the init; compare SAEs trained with other seeds too")
        for split in pair["biggest_splits"][:3]:
            into = "; ".join(f"#{c['feature']} {c['label']} ({c['cosine']:.2f})".replace("  ", " ")
                             for c in split["into"][:6])
            console.print(f"  split #{split['feature']} {split['label']} → "
                          f"{len(split['into'])}: {into}", highlight=False, markup=False)
    if result.chain and result.chain["mean_consistency"] is not None:
        chain = result.chain
        console.print(f"split chain {' → '.join(chain['saes'])}: direct vs step-by-step match "
                      f"Jaccard {chain['mean_consistency']:.3f} on average, "
                      f"{chain['fully_consistent']:.1%} identical", highlight=False)
    for item in result.stability:
        console.print(
            f"re-seed {item['a']} ↔ {item['b']}: mean best cosine "
            f"{item['mean_best_cosine']:.3f} ({item['fraction_best_at_threshold']:.1%} ≥ "
            f"{threshold}); one-to-one mean {item['mean_one_to_one_cosine']:.3f} "
            f"({item['fraction_one_to_one_at_threshold']:.1%} ≥ {threshold})", highlight=False)
        if "families" in item and item["families"]["mean_best_jaccard"] is not None:
            fam = item["families"]
            console.print(f"  families: {fam['a']} vs {fam['b']}; mean best Jaccard "
                          f"{fam['mean_best_jaccard']:.3f}, {fam['fraction_jaccard_at_0.5']:.1%}"
                          " ≥ 0.5", highlight=False)
    console.print("wrote " + ", ".join(str(p) for p in
                                       [result.out_dir / "compare.json", *result.figures]))


@writes_workspace("trends")
def trends(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    by: Annotated[str, typer.Option(help="year or category.")] = "year",
    families: Annotated[bool, typer.Option(
        "--families", help="Trends of families (run `families build` first).")] = False,
    years: Annotated[str | None, typer.Option(
        help="Only documents from these years, e.g. 2007-2017.")] = None,
    top: Annotated[int, typer.Option(help="Columns to report per list.")] = 10,
) -> None:
    """Prevalence of features (or families) by year or arXiv category."""
    report = stages.trends(Workspace.open(workspace), sae, by=by,  # type: ignore[arg-type]
                                   use_families=families,
                                   years=parse_year_range(years) if years else None, top=top)
    unit = report.unit
    for title, rows in ((f"rising {unit}s", report.rising), (f"falling {unit}s", report.falling)):
        if rows:
            console.print(f"{title} ({report.documents:,} documents; prevalence first → last "
                          "year, slope in points per year):", highlight=False)
        for row in rows:
            console.print(f"  #{row['column']} {row['label']}: {row['first']:.2%} → "
                          f"{row['last']:.2%} (slope {100 * row['slope']:+.3f})",
                          highlight=False, markup=False)
    for cat in report.categories:
        top_rows = "; ".join(f"#{r['column']} {r['label']} (×{r['lift']:.1f})"
                             for r in cat["top"][:3])
        console.print(f"{cat['category']} ({cat['documents']:,}): {top_rows}",
                      highlight=False, markup=False)
    console.print("wrote " + ", ".join(str(p) for p in report.paths))


def register(app: typer.Typer) -> None:
    app.add_typer(families_app, name="families")
    app.command()(compare)
    app.command()(trends)
