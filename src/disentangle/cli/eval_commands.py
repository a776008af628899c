"""``disentangle eval steering``: feature steering vs query rewriting, on real retrievals."""

from __future__ import annotations

from typing import Annotated

import typer

from disentangle import stages
from disentangle.cli.options import DEFAULT_WORKSPACE, SaeOption, WorkspaceOption, split_list
from disentangle.cli.progress import console
from disentangle.workspace import Workspace

eval_app = typer.Typer(help="Evaluate what the workspace's SAE lets users do.",
                       no_args_is_help=True)


@eval_app.command("steering")
def steering(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    sets: Annotated[str, typer.Option(
        "--sets", help="Query sets: astro, ml, or .json files (comma-separated).")
    ] = "astro,ml",
    mode: Annotated[str, typer.Option(help="residual, reconstruction or clamp.")] = "residual",
) -> None:
    """Raise/lower features vs rewriting the query text; arXiv categories as ground truth."""
    report = stages.evaluate_steering_sets(Workspace.open(workspace), sae, split_list(sets), mode)
    for summary in report.summaries:
        console.print(f"{summary['set']}: raised feature {summary['raised_feature']} "
                      f"(“{summary['raised_label']}”), target category "
                      f"{summary['target_category']}")
    print(report.markdown)
    console.print(f"per-query rows and summaries in {report.paths[-1].parent}")


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
