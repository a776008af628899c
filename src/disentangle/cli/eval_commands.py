"""``disentangle eval steering``: feature steering vs query rewriting, on real retrievals."""

from __future__ import annotations

import os
from collections.abc import Callable
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
from disentangle.interpret.chat import ENV_PREFIX, ChatClient, ChatConfig
from disentangle.locking import writer_lock
from disentangle.search import DEFAULT_BLEND
from disentangle.search.evaluation import (
    DENSITY_RANGE,
    SEED,
    STRENGTHS,
    Rewriter,
    chat_rewriter,
    read_rewrites,
)
from disentangle.search.hybrid import AUTO, parse_pool
from disentangle.search.judge_packets import PACKET_SEED, score_answers
from disentangle.stages import audit
from disentangle.workspace import Workspace

eval_app = typer.Typer(help="Evaluate what the workspace's SAE lets users do.",
                       no_args_is_help=True)


def parse_floats(text: str, option: str, example: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in split_list(text))
    except ValueError:
        raise DisentangleError(f"{option} {text!r} is not a list of numbers; write e.g. "
                               f"{example}") from None


@eval_app.command("steering")
@writes_workspace("eval steering")
def steering(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    sets: Annotated[str, typer.Option(
        "--sets", help="Query sets: astro, ml, or .json files (comma-separated).")
    ] = "astro,ml",
    seed: Annotated[int, typer.Option(help="Seed of the raised-feature draw.")] = SEED,
    blend: Annotated[float, typer.Option(help="Hybrid blend of the feature terms.")
                     ] = DEFAULT_BLEND,
    pool: Annotated[str, typer.Option(
        help="Which of the steered query's nearest abstracts the feature terms re-rank: auto "
             "(grown or shrunk to hold 7 × strength abstracts carrying a raised feature, "
             "within cosine 0.2 of the k-th), a number, or 0 / all (the whole corpus).")
    ] = AUTO,
    strengths: Annotated[str, typer.Option(help="Strengths of the curves (comma-separated).")
                         ] = ",".join(f"{s:g}" for s in STRENGTHS),
    density: Annotated[str, typer.Option(
        help="Density range LO,HI of the features drawn to raise.")
    ] = ",".join(f"{d:g}" for d in DENSITY_RANGE),
    packets: Annotated[Path | None, typer.Option(
        help="Also write a blind judge packet (steering-packet.md) and its key "
             "(steering-key.json) to this folder.")] = None,
    packet_seed: Annotated[int, typer.Option(help="Seed of the packet's shuffles.")
                           ] = PACKET_SEED,
    packet_keys: Annotated[Path | None, typer.Option(
        help="Write the packet's key here instead of beside the packet.")] = None,
    rewrites: Annotated[Path | None, typer.Option(
        help="LLM rewrites as JSON lines {query, raised, lowered, rewrite} (what a run "
             "with --llm-config leaves in eval/steering-rewrites.jsonl).")] = None,
    llm_config: Annotated[Path | None, typer.Option(
        help="TOML with an [llm] table: adds an LLM rewrite baseline (also on when "
             f"{ENV_PREFIX}BASE_URL is set).")] = None,
) -> None:
    """The paper's protocol: raise a drawn feature, lower the strongest clean one; feature
    edits vs rewrites at matched drift; codes, label words and categories as ground truth."""
    ws = Workspace.open(workspace)
    grid = parse_floats(strengths, "--strengths", "0.5,1,2")
    density_range = parse_floats(density, "--density", "0.002,0.05")
    if len(density_range) != 2:
        raise DisentangleError("--density takes two numbers, LO,HI, e.g. 0.002,0.05")
    llm = llm_rewriter(ws, rewrites, llm_config)
    report = stages.evaluate_steering_sets(
        ws, sae, split_list(sets), seed=seed, blend=blend, strengths=grid,
        density_range=(density_range[0], density_range[1]), llm=llm, packets=packets,
        packet_seed=packet_seed, pool=parse_pool(pool), packet_keys=packet_keys)
    print(report.markdown)
    console.print(f"{report.queries} queries; rows, summary and report in "
                  f"{report.paths[0].parent}")
    if packets is not None:
        console.print(f"judge packet {report.paths[-2]}; its key {report.paths[-1]} (keep it "
                      "from the judge); score with `disentangle eval steering-score`")


def llm_rewriter(ws: Workspace, rewrites: Path | None,
                 llm_config: Path | None) -> Callable[[], Rewriter] | None:
    """What makes the LLM rewrite baseline: a rewrites file, else a configured chat model."""
    if rewrites is not None and llm_config is not None:
        raise DisentangleError("give --rewrites or --llm-config, not both")
    if rewrites is not None:
        return lambda: read_rewrites(rewrites)
    if llm_config is None and not os.environ.get(f"{ENV_PREFIX}BASE_URL"):
        return None
    return lambda: chat_rewriter(ChatClient(ChatConfig.load(llm_config),
                                            cache_dir=ws.cache_root / "llm").complete)


@eval_app.command("steering-score")
def steering_score(
    key: Annotated[Path, typer.Option(help="The steering-key.json written with the packet.")],
    answers: Annotated[Path, typer.Option(help="The judge's JSON lines.")],
    packet: Annotated[Path | None, typer.Option(
        help="The packet, to check the key belongs to it.")] = None,
) -> None:
    """Score a judge's answers to a steering packet: raised/lowered topic found, relevance."""
    scores = score_answers(key, answers, packet)
    print("| method | answered | found raised (toward) | found lowered (away) | relevance 0–2 |")
    print("| --- | --- | --- | --- | --- |")
    for method, s in scores.items():
        print(f"| {method} | {s['answered']} | {s['toward']:.2f} | {s['away']:.2f} | "
              f"{s['relevance']:.2f} |")
    console.print("chance is 0.20 for each topic")


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
    _audit("labels", workspace, score, key, judge, llm_config,
           lambda ws, chosen: audit.write_label_audit(ws, sae, sample=sample, seed=seed,
                                                      out=out, judge=chosen))


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
    _audit("families", workspace, score, key, judge, llm_config,
           lambda ws, chosen: audit.write_family_audit(ws, sae, count=count, seed=seed,
                                                       out=out, judge=chosen))


def _audit(kind: str, workspace: Path, score: Path | None, key: Path | None, judge: str | None,
           llm_config: Path | None,
           write: Callable[[Workspace, audit.Judge | None], audit.AuditFiles]) -> None:
    """Score a judge's answers, or write a packet and its key (and let an LLM judge it)."""
    if score is not None:
        print(audit.score_answers(score, key, kind)[1])
        return
    ws = Workspace.open(workspace)
    with writer_lock(workspace, f"eval {kind}"):
        files = write(ws, _judge(ws, judge, llm_config))
    _report(files, kind)


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
