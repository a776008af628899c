"""The ``sweep`` command: train an (n, k) grid in one pass, fit scaling laws, draw figures."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from disentangle import stages
from disentangle.cli.options import (
    DEFAULT_WORKSPACE,
    TRAIN,
    ArchOption,
    AuxCoefOption,
    AuxKOption,
    BatchSizeOption,
    DeadStepsOption,
    DeviceOption,
    EpochsOption,
    GradClipOption,
    PrefixesOption,
    SeedOption,
    ValFractionOption,
    WorkspaceOption,
    parse_prefixes,
    writes_workspace,
)
from disentangle.cli.progress import console, progress_bar
from disentangle.sae.scaling import GAO_PARAMS
from disentangle.sae.sweep import parse_sizes, plan
from disentangle.sae.trainer import TrainConfig
from disentangle.workspace import Workspace


@writes_workspace("sweep")
def sweep(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    n: Annotated[str, typer.Option(
        help="Dictionary sizes: integers or multiples of d, e.g. '2d,4d,6d'.")] = "2d,4d,6d",
    k: Annotated[str, typer.Option(help="Active features per document.")] = "16,32,64,128",
    epochs: EpochsOption = TRAIN.epochs,
    batch_size: BatchSizeOption = TRAIN.batch_size,
    lr: Annotated[float, typer.Option(
        help="Adam learning rate (the base, if scaled).")] = TRAIN.lr,
    scale_lr: Annotated[bool, typer.Option(
        help="Scale the learning rate as lr/sqrt(n/2^14) per member.")] = False,
    patience: Annotated[int | None, typer.Option(
        help="Stop a member after this many epochs without validation improvement.")
    ] = TRAIN.patience,
    seed: SeedOption = TRAIN.seed,
    val_fraction: ValFractionOption = TRAIN.val_fraction,
    grad_clip: GradClipOption = TRAIN.grad_clip,
    aux_k: AuxKOption = TRAIN.aux_k,
    aux_coef: AuxCoefOption = TRAIN.aux_coef,
    dead_steps: DeadStepsOption = TRAIN.dead_steps,
    device: DeviceOption = TRAIN.device,
    arch: ArchOption = "topk",
    prefixes: PrefixesOption = None,
) -> None:
    """Train every (n, k) SAE of a grid in one pass over shared batches (resumable: finished
    members are skipped), then fit scaling laws into sweeps/scaling.json and draw figures.
    All members share one architecture; Matryoshka prefixes, if given, must not exceed any
    member's n."""
    ws = Workspace.open(workspace)
    embeddings = ws.embeddings()
    d = embeddings.shape[1]
    base = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                       val_fraction=val_fraction, patience=patience, grad_clip=grad_clip,
                       aux_k=aux_k, aux_coef=aux_coef, dead_steps=dead_steps, device=device)
    members = plan(d, parse_sizes(n, d), [int(v) for v in parse_sizes(k, d)], base,
                   scale_lr=scale_lr, architecture=arch,
                   prefixes=parse_prefixes(prefixes, d))
    console.print(f"sweep of {len(members)} SAEs on {embeddings.shape[0]:,} × {d} embeddings: "
                  + ", ".join(m.name for m in members))
    steps: dict[str, int] = {}
    totals: dict[str, int] = {}
    with progress_bar("training", unit="steps") as update:
        def on_progress(event: dict[str, Any]) -> None:
            steps[event["run"]], totals[event["run"]] = event["step"], event["steps_total"]
            update(sum(steps.values()), sum(totals.values()))

        done = stages.sweep(ws, members, on_progress)
    print_results(done.rows, done.fit)
    console.print(f"fits: {done.paths[0]}; figures: "
                  + ", ".join(str(p) for p in done.paths[1:]))


def _pm(param: dict[str, Any]) -> str:
    se = param["se"]
    return f"{param['value']:.4g}" + (f" ± {se:.2g}" if se is not None else "")


def print_results(rows: list[dict[str, Any]], fit: dict[str, Any]) -> None:
    table = Table(title="sweep: final validation metrics")
    for column in ("SAE", "n", "k", "epochs", "NMSE", "dead"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["name"], str(r["n"]), str(r["k"]), str(r["epochs"]),
                      f"{r['nmse']:.4f}", f"{r['dead_fraction']:.2%}")
    console.print(table)
    laws = Table(title="scaling fits (log space; ± one standard error)")
    for column in ("form", "coefficients", "R² (log)", "RMSE (log)"):
        laws.add_column(column)
    for k_value, law in fit["per_k"].items():
        laws.add_row(f"k={k_value}: a·n^-b", f"a={_pm(law['a'])}, b={_pm(law['b'])}",
                     f"{law['r2_log']:.3f}", f"{law['rmse_log']:.4f}")
    joint = fit["joint"]
    laws.add_row("c·n^-βn·k^-βk", f"c={_pm(joint['c'])}, βn={_pm(joint['beta_n'])}, "
                 f"βk={_pm(joint['beta_k'])}", f"{joint['r2_log']:.3f}",
                 f"{joint['rmse_log']:.4f}")
    gao = fit["gao"]
    if "error" in gao:
        laws.add_row("Gao et al.", f"not fitted: {gao['error']}", "", "")
    else:
        laws.add_row("Gao et al.", ", ".join(f"{name}={_pm(gao[name])}"
                                             for name in GAO_PARAMS),
                     f"{gao['r2_log']:.3f}", f"{gao['rmse_log']:.4f}")
    console.print(laws)


def register(app: typer.Typer) -> None:
    app.command()(sweep)
