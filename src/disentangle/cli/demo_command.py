"""``disentangle demo``: run every stage on real abstracts and print a compact report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import numpy as np
import pyarrow as pa
import typer
from rich.table import Table

from disentangle import stages
from disentangle.cli.build_commands import print_training_summary, run_training
from disentangle.cli.options import ArchOption, PrefixesOption, parse_prefixes, writes_workspace
from disentangle.cli.progress import console, progress_bar
from disentangle.cli.search_commands import print_search
from disentangle.demo import (
    EXAMPLE_QUERIES,
    DemoData,
    category_counts,
    coherent_features,
    find_data_dir,
    load_demo_corpus,
)
from disentangle.interpret import format_summary
from disentangle.sae.model import SAEConfig
from disentangle.sae.trainer import TrainConfig
from disentangle.workspace import Workspace


@writes_workspace("demo", create=True)
def demo(
    workspace: Annotated[Path, typer.Option(
        "--workspace", "-w", help="Where the demo workspace goes.")] = Path("ws-demo"),
    data_dir: Annotated[Path | None, typer.Option(
        help="The shared data folder (default ../shared/data).")] = None,
    corpus: Annotated[Path | None, typer.Option(
        help="Use this corpus file instead of the shared data (embedded live).")] = None,
    size: Annotated[int | None, typer.Option(
        help="Documents to use (default: all 89,209 with precomputed embeddings).")] = None,
    modern: Annotated[int, typer.Option(
        help="Recent (2024-2026) cs.LG abstracts to embed live.")] = 600,
    n: Annotated[int, typer.Option(
        help="Dictionary size (2048: as good a reconstruction as 3072 on this corpus, and "
             "more of its features name one topic; docs/labels.md).")] = 2048,
    k: Annotated[int, typer.Option(help="Active features per document.")] = 32,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 40,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 4e-4,
    arch: ArchOption = "matryoshka",
    prefixes: PrefixesOption = None,
) -> None:
    """Run the whole pipeline on real arXiv abstracts and print a report."""
    started = time.perf_counter()
    data = DemoData(data_dir=find_data_dir(data_dir) if corpus is None else Path("."),
                    size=size, modern=modern, corpus=corpus)
    console.rule("[bold]1. corpus")
    report, sources, precomputed_spec = load_demo_corpus(data)
    ws = Workspace.create(workspace)
    stored = stages.ingest(ws, report, sources)
    groups = ", ".join(f"{name} {count:,}" for name, count in
                       category_counts(ws.corpus()).items() if count)
    console.print(f"{stored.documents:,} abstracts ({groups})")

    console.rule("[bold]2. embeddings")
    with progress_bar("embedding") as update:
        embedded = stages.embed(ws, precomputed_spec, on_progress=update)
    if embedded.unchanged:
        console.print("embeddings up to date (cached)")
    else:
        rate = embedded.docs_per_second
        console.print(f"{embedded.seeded_from_precomputed:,} precomputed, "
                      f"{embedded.embedded_now:,} embedded now"
                      + (f" at {rate} abstracts/s" if rate else "")
                      + f" with {embedded.model}")

    console.rule("[bold]3. sparse autoencoder")
    # Matryoshka by default: blind judges accepted its labels more often than top-k's
    # (docs/labels.md, "Matryoshka").
    d = ws.embeddings().shape[1]
    sae_config = SAEConfig(d=d, n=n, k=k, architecture=arch,
                           prefixes=parse_prefixes(prefixes, d))
    trained = run_training(ws, sae_config, TrainConfig(epochs=epochs, lr=lr), None)
    name = trained.name
    print_training_summary(name, trained.history[-1:])

    console.rule("[bold]4. sparse codes")
    with progress_bar("encoding") as update:
        stages.encode(ws, name, on_progress=update)
    stats = ws.sae_folder(name).feature_stats()

    console.rule("[bold]5. feature labels (offline)")
    with progress_bar("interpreting", unit="features") as update:
        labelled = stages.interpret(ws, name, on_progress=update)
    console.print(format_summary(labelled.summary))
    print_example_features(ws, stats, labelled.table)

    console.rule("[bold]6. feature families")
    print_example_families(ws, name)

    console.rule("[bold]7. search")
    search = stages.searcher(ws, name)
    for query in EXAMPLE_QUERIES:
        print_search(search.search(query, k=5), query)
    console.rule()
    console.print(f"demo finished in {time.perf_counter() - started:.0f} s; workspace: "
                  f"{workspace}\ntry: disentangle search --workspace {workspace} "
                  "\"gravitational wave detection\"")


def print_example_features(ws: Workspace, stats: pa.Table, features: pa.Table) -> None:
    """Five of the most coherent features with their labels and top abstracts' titles."""
    labels = dict(zip(features.column("feature").to_pylist(),
                      features.column("label").to_pylist(), strict=True))
    pearson = dict(zip(features.column("feature").to_pylist(),
                       features.column("pearson_balanced").to_pylist(), strict=True))
    titles = ws.corpus().column("title").to_pylist()
    density = stats.column("density").to_numpy()
    top_rows = stats.column("top_rows").to_pylist()
    chosen = coherent_features(stats, ws.embeddings())
    console.print(f"{len(density):,} features; mean log10 density "
                  f"{_mean_log_density(density):.2f}; five of the most coherent "
                  "(top abstracts most alike):")
    for feature in chosen:
        table = Table(title=f"feature {feature} “{labels.get(feature, '')}” (active in "
                            f"{density[feature]:.2%} of abstracts; label Pearson "
                            f"{pearson.get(feature, float('nan')):.2f} on the paper's 3+3 "
                            "design)",
                      show_header=False, title_justify="left")
        table.add_column("top abstracts")
        for row in top_rows[feature][:4]:
            table.add_row(titles[row])
        console.print(table)


def print_example_families(ws: Workspace, name: str, count: int = 5) -> None:
    """Build families (co-occurrence tree) and show the largest with their children."""
    report = stages.build_families(ws, name)
    table = report.table
    console.print(f"{table.num_rows} families from {report.candidates} interpretable features; "
                  f"the {count} largest (parent → some direct children):")
    order = np.argsort(-np.asarray(table.column("size").to_pylist()), kind="stable")[:count]
    for family_id in table.column("family").take(pa.array(order)).to_pylist():
        view = stages.describe(ws, family_id, name, top=0)
        children = [label for _, label, _, direct in view.children if direct][:5]
        console.print(f"  [bold]{view.row['label']}[/] ({view.row['size']} features): "
                      f"{view.parent_label} → {'; '.join(children)}", highlight=False)


def _mean_log_density(density: np.ndarray) -> float:
    alive = density[density > 0]
    return float(np.log10(alive).mean()) if alive.size else float("nan")


def register(app: typer.Typer) -> None:
    app.command()(demo)
