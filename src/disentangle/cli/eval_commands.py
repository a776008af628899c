"""``disentangle eval steering``: feature steering vs query rewriting, on real retrievals."""

from __future__ import annotations

from typing import Annotated

import typer

from disentangle import pipeline
from disentangle.cli.options import (
    DEFAULT_WORKSPACE,
    SaeOption,
    WorkspaceOption,
    split_list,
    writes_workspace,
)
from disentangle.cli.progress import console
from disentangle.io import write_json, write_parquet, write_text
from disentangle.search import evaluate_steering, load_query_set, summary_markdown
from disentangle.workspace import Workspace

eval_app = typer.Typer(help="Evaluate what the workspace's SAE lets users do.",
                       no_args_is_help=True)


@eval_app.command("steering")
@writes_workspace("eval steering")
def steering(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    sets: Annotated[str, typer.Option(
        "--sets", help="Query sets: astro, ml, or .json files (comma-separated).")
    ] = "astro,ml",
    mode: Annotated[str, typer.Option(help="residual, reconstruction or clamp.")] = "residual",
) -> None:
    """Raise/lower features vs rewriting the query text; arXiv categories as ground truth."""
    ws = Workspace.open(workspace)
    name = ws.resolve_sae(sae)
    searcher = pipeline.searcher(ws, name)
    out = ws.sae_dir(name) / "eval"
    summaries = []
    for set_name in split_list(sets):
        query_set = load_query_set(set_name)
        table, summary = evaluate_steering(searcher, query_set, mode=mode)
        stem = f"steering-{query_set.name.removesuffix('.json').replace('/', '_')}-{mode}"
        write_parquet(out / f"{stem}.parquet", table)
        write_json(out / f"{stem}.json", summary)
        summaries.append(summary)
        console.print(f"{set_name}: raised feature {summary['raised_feature']} "
                      f"(“{summary['raised_label']}”), target category "
                      f"{summary['target_category']}")
    report = summary_markdown(summaries)
    write_text(out / f"steering-{mode}.md", report + "\n")
    print(report)
    console.print(f"per-query rows and summaries in {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
