"""``disentangle eval steering``: feature steering vs query rewriting, on real retrievals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from disentangle import stages
from disentangle.cli.options import (
    DEFAULT_WORKSPACE,
    SaeOption,
    WorkspaceOption,
    split_list,
    writes_workspace,
)
from disentangle.cli.progress import console
from disentangle.errors import DisentangleError
from disentangle.stages import audit
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
    report = stages.evaluate_steering_sets(Workspace.open(workspace), sae, split_list(sets), mode)
    for summary in report.summaries:
        console.print(f"{summary['set']}: raised feature {summary['raised_feature']} "
                      f"(“{summary['raised_label']}”), target category "
                      f"{summary['target_category']}")
    print(report.markdown)
    console.print(f"per-query rows and summaries in {report.paths[-1].parent}")


SeedOption = Annotated[int, typer.Option(help="Seed of the sample and the shuffles.")]
OutOption = Annotated[Path | None, typer.Option(
    help="Folder for the packet and key (default: <workspace>/saes/<sae>/audit).")]
JudgeOption = Annotated[str | None, typer.Option(
    help="llm: let the OpenAI-compatible chat model judge the packet, then score it.")]
LlmConfigOption = Annotated[Path | None, typer.Option(
    help="TOML file with an \\[llm] table; DISENTANGLE_LLM_* environment variables override it.")]
ScoreOption = Annotated[Path | None, typer.Option(
    "--score", help="Score a judge's answers (JSON lines) instead of writing a packet.")]
KeyOption = Annotated[Path | None, typer.Option(
    help="The answer key for --score (default: the *-key.json beside the answers).")]


@eval_app.command("labels")
def labels(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    sample: Annotated[str, typer.Option(
        help="Features to judge per group: clean, band (density 0.1-5%), all.")
    ] = audit.DEFAULT_SAMPLE,
    seed: SeedOption = 0,
    out: OutOption = None,
    judge: JudgeOption = None,
    llm_config: LlmConfigOption = None,
    score: ScoreOption = None,
    key: KeyOption = None,
) -> None:
    """Blind label audit: write a judging packet and its key, or score a judge's answers."""
    if score is not None:
        print(audit.score_answers(score, key, "labels")[1])
        return
    ws = Workspace.open(workspace)
    files = audit.write_label_audit(ws, sae, sample=sample, seed=seed, out=out,
                                    judge=_judge(ws, judge, llm_config))
    _report(files, "labels")


@eval_app.command("families")
def families(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    count: Annotated[int, typer.Option(help="Families to judge.")] = audit.DEFAULT_FAMILIES,
    seed: SeedOption = 0,
    out: OutOption = None,
    judge: JudgeOption = None,
    llm_config: LlmConfigOption = None,
    score: ScoreOption = None,
    key: KeyOption = None,
) -> None:
    """Blind family audit: write a judging packet and its key, or score a judge's answers."""
    if score is not None:
        print(audit.score_answers(score, key, "families")[1])
        return
    ws = Workspace.open(workspace)
    files = audit.write_family_audit(ws, sae, count=count, seed=seed, out=out,
                                     judge=_judge(ws, judge, llm_config))
    _report(files, "families")


def _judge(ws: Workspace, judge: str | None, llm_config: Path | None) -> audit.Judge | None:
    if judge is None:
        return None
    if judge != "llm":
        raise DisentangleError(f"unknown judge {judge!r}; use --judge llm, or give the packet "
                               "to a person and score their answers with --score")
    return audit.llm_judge(ws, llm_config)


def _report(files: audit.AuditFiles, kind: str) -> None:
    console.print(f"packet for the judge: {files.packet}\nanswer key (keep it from the judge): "
                  f"{files.key}")
    if files.answers is None:
        console.print(f"score the answers with `disentangle eval {kind} --score ANSWERS.jsonl "
                      f"--key {files.key}`")
        return
    console.print(f"LLM answers: {files.answers}")
    print(audit.score_answers(files.answers, files.key, kind)[1])


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
