"""``disentangle search``: steerable semantic search with per-hit explanations."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from disentangle import stages
from disentangle.cli.options import (
    DEFAULT_WORKSPACE,
    SaeOption,
    WorkspaceOption,
    split_list,
    writes_workspace,
)
from disentangle.cli.progress import console, progress_bar
from disentangle.errors import DisentangleError
from disentangle.search import DEFAULT_BLEND, Edit, Filters, SearchResult, down, up
from disentangle.search.hybrid import AUTO, parse_pool
from disentangle.search.request import parse_target
from disentangle.workspace import Workspace

MAX_QUERY_CHARS = 2000
MAX_K = 1000


def collect_edits(raise_: list[str], lower: list[str], family_up: list[str],
                  family_down: list[str], strength: float) -> list[Edit]:
    """CLI edit flags → edits, in the order a user reads them."""
    return ([up(parse_target(t), strength) for t in raise_]
            + [down(parse_target(t)) for t in lower]
            + [up(parse_target(t), strength, family=True) for t in family_up]
            + [down(parse_target(t), family=True) for t in family_down])


def search(
    query: Annotated[str, typer.Argument(help="Free-text query.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    k: Annotated[int, typer.Option("-k", help="Number of results.")] = 10,
    raise_: Annotated[list[str], typer.Option(
        "--up", help="Raise a feature (id or label); repeatable.")] = [],  # noqa: B006
    lower: Annotated[list[str], typer.Option(
        "--down", help="Remove a feature (id or label); repeatable.")] = [],  # noqa: B006
    family_up: Annotated[list[str], typer.Option(
        "--family", help="Raise every feature of a family; repeatable.")] = [],  # noqa: B006
    family_down: Annotated[list[str], typer.Option(
        "--family-down", help="Remove every feature of a family.")] = [],  # noqa: B006
    strength: Annotated[float, typer.Option(
        help="--up strength, in units of the feature's activation in its typical top "
             "documents (1 = as strong as there).")] = 1.0,
    blend: Annotated[float, typer.Option(
        help="Score a document gains (loses) per unit of --up (--down) when it carries the "
             "feature as strongly as its typical top documents; 0 = move the query vector "
             "only.")] = DEFAULT_BLEND,
    pool: Annotated[str, typer.Option(
        help="Which of the steered query's nearest abstracts the feature terms re-rank: auto "
             "(grown or shrunk to hold 7 × strength abstracts carrying a raised feature, "
             "within cosine 0.2 of the k-th), a number, or 0 / all (the whole corpus).")
    ] = AUTO,
    mode: Annotated[str, typer.Option(
        help="residual (default: keep what the SAE does not explain), reconstruction, "
             "or clamp.")] = "residual",
    years: Annotated[str | None, typer.Option(
        "--year", help="Year or range, e.g. 2015-2017.")] = None,
    categories: Annotated[str | None, typer.Option(
        "--category", help="Only these categories (prefix match), e.g. astro-ph.EP.")] = None,
    require: Annotated[list[str], typer.Option(
        help="Only documents where this feature is active.")] = [],  # noqa: B006
    exclude: Annotated[list[str], typer.Option(
        help="Only documents where this feature is silent.")] = [],  # noqa: B006
    index: Annotated[str, typer.Option(
        help="exact (default), or hnsw / ivf / ivfpq: approximate, for corpora in the "
             "millions (ivfpq: on disk, for 10M); built into the workspace on first use "
             "or ahead with `disentangle index`.")] = "exact",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search the corpus; steer the query by raising or removing features and families."""
    if not query.strip() or len(query) > MAX_QUERY_CHARS:
        raise DisentangleError(f"the query must have 1 to {MAX_QUERY_CHARS} characters")
    if not 1 <= k <= MAX_K:
        raise DisentangleError(f"-k must be between 1 and {MAX_K}, got {k}")
    searcher = stages.searcher(Workspace.open(workspace), sae, index=index)
    filters = Filters.from_cli(years=years, categories=split_list(categories),
                               require=[parse_target(t) for t in require],
                               exclude=[parse_target(t) for t in exclude])
    result = searcher.search(query, collect_edits(raise_, lower, family_up, family_down,
                                                  strength),
                             k=k, filters=None if filters.empty else filters, mode=mode,
                             blend=blend, pool=parse_pool(pool))
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print_search(result, query)


def _feature_name(feature: int, label: str | None) -> str:
    return f"{feature}:{label}" if label else f"#{feature}"


def print_search(result: SearchResult, query: str) -> None:
    """Hits with their explanations, then the query's features with what they mean."""
    title = f"“{query}”"
    if result.edits:
        title += (f" — steered ({result.mode}): drift = cosine to the original query "
                  f"{result.drift:.3f}; blend {result.blend:g} = feature terms give "
                  f"{100 * result.boost_share:.0f}% of the hits' score, re-ranking "
                  + (f"its {result.pool} nearest abstracts ({result.pool_rule} pool)"
                     if result.pool else "the whole corpus"))
    table = Table(title=title, title_justify="left")
    boosted = any(hit.boost for hit in result.hits)
    for column, justify in (("#", "right"),
                            ("score (feature term)" if boosted else "score", "right"),
                            ("year", "right"),
                            ("categories", "left"), ("title", "left"),
                            ("shared features (contribution)", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for rank, hit in enumerate(result.hits, 1):
        why = ", ".join(f"{_feature_name(c.feature, c.label)} {c.contribution:.2f}"
                        for c in hit.explanation[:3])
        score = f"{hit.score:.3f}" + (f" ({hit.boost:+.2f})" if boosted else "")
        table.add_row(str(rank), score, str(hit.year or ""),
                      " ".join(hit.categories[:2]), hit.title, why)
    console.print(table)
    features = result.steered_features if result.edits else result.query_features
    shown = Table(title="query features (what each means: titles of its top abstracts)",
                  title_justify="left")
    for column in ("feature", "activation", "top abstracts"):
        shown.add_column(column)
    for info in features[:6]:
        change = f" (was {info.original:.2f})" if abs(info.activation - info.original) > 1e-6 \
            else ""
        shown.add_row(_feature_name(info.feature, info.label), f"{info.activation:.2f}{change}",
                      " | ".join(info.top_titles[:2]))
    console.print(shown)


@writes_workspace("index")
def index(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    kind: Annotated[str, typer.Option(
        help="ivfpq (on disk, memory-mapped, exact re-ranking: for millions of documents), "
             "hnsw or ivf (in memory).")] = "ivfpq",
) -> None:
    """Build the approximate search index ahead of `search --index KIND` (resumable)."""
    with progress_bar(f"building the {kind} index", unit="rows") as update:
        report = stages.build_index(Workspace.open(workspace), kind, update)  # type: ignore[arg-type]
    console.print(f"{report.kind} index over {report.rows:,} rows: {report.path} "
                  f"({report.size_bytes / 2**20:,.1f} MB), {report.seconds:,.1f} s; "
                  f"use it with `disentangle search --index {report.kind}`")


def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command()(index)
