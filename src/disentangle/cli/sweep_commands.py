"""The ``sweep`` command: train an (n, k) grid in one pass, fit scaling laws, draw figures."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from disentangle import pipeline
from disentangle.cli.options import (
    DEFAULT_WORKSPACE,
    ArchOption,
    PrefixesOption,
    WorkspaceOption,
    parse_prefixes,
    writes_workspace,
)
from disentangle.cli.progress import console, progress_bar
from disentangle.io import write_json
from disentangle.sae import plots, scaling
from disentangle.sae.sweep import parse_sizes, plan, run_sweep, summary
from disentangle.sae.trainer import TrainConfig
from disentangle.workspace import Workspace


@writes_workspace("sweep")
def sweep(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    n: Annotated[str, typer.Option(
        help="Dictionary sizes: integers or multiples of d, e.g. '2d,4d,6d'.")] = "2d,4d,6d",
    k: Annotated[str, typer.Option(help="Active features per document.")] = "16,32,64,128",
    epochs: Annotated[int, typer.Option(help="Passes over the training split.")] = 10,
    batch_size: Annotated[int, typer.Option(help="Batch size (shared by all members).")] = 1024,
    lr: Annotated[float, typer.Option(help="Adam learning rate (the base, if scaled).")] = 1e-4,
    scale_lr: Annotated[bool, typer.Option(
        help="Scale the learning rate as lr/sqrt(n/2^14) per member.")] = False,
    patience: Annotated[int | None, typer.Option(
        help="Stop a member after this many epochs without validation improvement.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (shared by all members).")] = 0,
    val_fraction: Annotated[float, typer.Option(help="Held-out validation fraction.")] = 0.05,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
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
                       val_fraction=val_fraction, patience=patience, device=device)
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

        results = run_sweep(embeddings, members, ws.sae_dir, pipeline.provenance(ws),
                            on_progress)
    rows = summary(results)
    fit = scaling.fit_all(rows)
    out_dir = ws.root / "sweeps"
    write_json(out_dir / "scaling.json", fit)
    figures = plots.all_figures(fit, {r.out_dir.name: r.history for r in results}, out_dir)
    print_results(rows, fit)
    console.print(f"fits: {out_dir / 'scaling.json'}; figures: "
                  + ", ".join(str(p) for p in figures))


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
                                             for name in scaling.GAO_PARAMS),
                     f"{gao['r2_log']:.3f}", f"{gao['rmse_log']:.4f}")
    console.print(laws)


def register(app: typer.Typer) -> None:
    app.command()(sweep)
