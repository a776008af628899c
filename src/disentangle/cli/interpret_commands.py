"""``disentangle interpret`` and ``disentangle features list|show|find``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow as pa
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
from disentangle.errors import DisentangleError
from disentangle.interpret import feature_row, format_feature, format_summary
from disentangle.workspace import Workspace

SORTABLE = ("feature", "pearson", "f1", "pearson_balanced", "f1_balanced", "density")


def parse_feature_ranges(text: str) -> list[int]:
    """``"0-99,120,130-135"`` → feature ids; a clear error for anything else."""
    features: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            start, stop = int(lo), int(hi if sep else lo)
        except ValueError:
            raise DisentangleError(f"feature range {text!r} is not understood; write e.g. "
                                   "0-99 or 3,17,40-49") from None
        if start < 0 or stop < start:
            raise DisentangleError(f"feature range {part!r} is empty or negative; write e.g. "
                                   "0-99")
        features.extend(range(start, stop + 1))
    return features


@writes_workspace("interpret")
def interpret(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    backend: Annotated[str, typer.Option(
        help="offline (no LLM, no network) or llm (any OpenAI-compatible chat endpoint).")
    ] = "offline",
    features: Annotated[str | None, typer.Option(
        help="Only these features, e.g. 0-99 (default: all).")] = None,
    llm_config: Annotated[Path | None, typer.Option(
        help="TOML file with an \\[llm] table (base_url, model, api_key_env, concurrency…); "
             "DISENTANGLE_LLM_* environment variables override it.")] = None,
) -> None:
    """Label every feature and score the labels on held-out abstracts (resumable)."""
    ws = Workspace.open(workspace)
    chosen = parse_feature_ranges(features) if features else None
    with progress_bar("interpreting", unit="features") as update:
        done = stages.interpret(ws, sae, backend=backend, features=chosen,
                                llm_config=llm_config, on_progress=update)
    folder = ws.sae_folder(done.name)
    console.print(format_summary(done.summary))
    console.print(f"features table: {folder.features_path} (+ .json); "
                  f"score histogram: {folder.scores_plot_path}")


features_app = typer.Typer(help="Browse labelled features.", no_args_is_help=True)


def _print_features(table: pa.Table, title: str) -> None:
    shown = Table(title=title, title_justify="left")
    for column, justify in (("feature", "right"), ("label", "left"), ("keywords", "left"),
                            ("Pearson", "right"), ("F1", "right"), ("3+3 Pearson", "right"),
                            ("density", "right"), ("flag", "center")):
        shown.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in table.to_pylist():
        shown.add_row(str(row["feature"]), row["label"], ", ".join((row.get("keywords") or [])[:3]),
                      f"{row['pearson']:.2f}",
                      f"{row['f1']:.2f}", f"{row['pearson_balanced']:.2f}",
                      f"{row['density']:.4f}", _flag(row))
    console.print(shown)


def _flag(row: dict) -> str:
    """Clean, or mixed: a mixed feature may be shown by a phrase that names only part of it."""
    return "clean" if row["clean"] else "mixed" if row.get("mixed") else ""


@features_app.command("list")
def list_features(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    clean: Annotated[bool, typer.Option(help="Only clean features.")] = False,
    sort: Annotated[str, typer.Option(help=f"One of {', '.join(SORTABLE)}.")] = "feature",
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
) -> None:
    """List labelled features with their scores."""
    folder = Workspace.open(workspace).sae(sae)
    name, table = folder.name, folder.features()
    if clean:
        table = table.filter(table.column("clean"))
    _print_features(top_rows(table, sort, SORTABLE, limit, ascending_column="feature"),
                    f"{name}: {table.num_rows} features{' (clean)' if clean else ''}, "
                    f"sorted by {sort}")


@features_app.command("show")
def show_feature(
    feature: Annotated[int, typer.Argument(help="Feature id.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
) -> None:
    """One feature: label, scores, and its top abstracts."""
    ws = Workspace.open(workspace)
    row = feature_row(ws.sae(sae).features(), feature)
    titles = ws.corpus().column("title").take(pa.array(row["top_rows"], pa.int64())).to_pylist()
    console.print(format_feature(row, titles[:10]), highlight=False, markup=False)


@features_app.command("find")
def find(
    text: Annotated[str, typer.Argument(help="Words to look for in labels.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
) -> None:
    """Find features whose label matches the text (exact, substring, then fuzzy): the same
    rules by which `search --up LABEL` resolves a label."""
    ws = Workspace.open(workspace)
    folder = ws.sae(sae)
    table = folder.features()
    position = {f: i for i, f in enumerate(table.column("feature").to_pylist())}
    matches = [f for f in stages.resolver(ws, folder.name).find(text, limit) if f in position]
    found = table.take([position[f] for f in matches])
    if not found.num_rows:
        raise DisentangleError(f"no feature label matches {text!r}; try another word or "
                               "`disentangle features list --sort pearson`")
    _print_features(found, f"{folder.name}: features matching “{text}”")


def register(app: typer.Typer) -> None:
    app.command()(interpret)
    app.add_typer(features_app, name="features")
