"""Commands for the stages that build a workspace: ingest, embed, train, encode."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from disentangle import pipeline
from disentangle.cli.options import (
    DEFAULT_WORKSPACE,
    ArchOption,
    PrefixesOption,
    SaeOption,
    WorkspaceOption,
    parse_prefixes,
    split_list,
    writes_workspace,
)
from disentangle.cli.progress import console, progress_bar
from disentangle.corpus import (
    CorpusFilter,
    FieldMap,
    load_corpus,
    parse_year_range,
    read_id_list,
)
from disentangle.errors import DisentangleError
from disentangle.sae.model import SAEConfig
from disentangle.sae.trainer import TrainConfig
from disentangle.workspace import Workspace


@writes_workspace("ingest", create=True)
def ingest(
    corpus: Annotated[list[Path], typer.Argument(help="JSONL(.gz), CSV or Parquet file(s).")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    categories: Annotated[str | None, typer.Option(
        help="Keep documents in these categories, e.g. 'astro-ph,cs.LG' (prefix match).")] = None,
    primary_only: Annotated[bool, typer.Option(
        help="Match the primary category only.")] = False,
    years: Annotated[str | None, typer.Option(help="Year or range, e.g. 2010-2017.")] = None,
    ids: Annotated[Path | None, typer.Option(help="Keep only the ids listed in this file.")] = None,
    sample: Annotated[int | None, typer.Option(help="Random sample of N documents.")] = None,
    limit: Annotated[int | None, typer.Option(help="Keep the first N documents.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for --sample.")] = 0,
    fields: Annotated[str | None, typer.Option(
        help="Field mapping, e.g. 'id=paper_id,abstract=summary'.")] = None,
    file_format: Annotated[str | None, typer.Option(
        "--format", help="jsonl, csv or parquet (default: from the extension).")] = None,
    skip_bad: Annotated[bool, typer.Option(help="Skip malformed rows and count them.")] = False,
) -> None:
    """Load a corpus of abstracts into a workspace."""
    filters = CorpusFilter(categories=split_list(categories), primary_only=primary_only,
                           years=parse_year_range(years) if years else None,
                           ids=read_id_list(ids) if ids is not None else None,
                           sample=sample, limit=limit, seed=seed)
    report = load_corpus(corpus, fields=FieldMap.parse(fields) if fields else FieldMap(),
                         filters=filters, skip_bad=skip_bad, format=file_format)
    info = pipeline.ingest(Workspace.create(workspace), report, [str(p) for p in corpus])
    verb = "unchanged" if info.get("skipped") else "stored"
    console.print(f"corpus {verb}: {info['documents']:,} documents in {workspace} "
                  f"(read {report.read:,}, filtered out {report.filtered_out:,}, "
                  f"duplicates {report.duplicates:,}, malformed skipped {report.skipped_bad:,})")


@writes_workspace("embed")
def embed(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    embedder: Annotated[str, typer.Option(help="minilm, openai or precomputed.")] = "minilm",
    runtime: Annotated[str | None, typer.Option(
        help="minilm runtime: onnx (int8) or torch (fp32).")] = None,
    model: Annotated[str | None, typer.Option(
        help="openai: model name; precomputed: the model that made the vectors.")] = None,
    base_url: Annotated[str | None, typer.Option(
        help="openai: endpoint base URL (env OPENAI_BASE_URL).")] = None,
    dimensions: Annotated[int | None, typer.Option(help="openai: output dimensions.")] = None,
    vectors: Annotated[Path | None, typer.Option(help="precomputed: .npy of vectors.")] = None,
    vector_ids: Annotated[Path | None, typer.Option(
        "--vector-ids", help="precomputed: ids, one per line, aligned with --vectors.")] = None,
    normalized: Annotated[bool, typer.Option(
        "--normalized/--not-normalized",
        help="precomputed: whether the vectors are unit length (checked row by row).")] = True,
    replace: Annotated[bool, typer.Option(
        help="Allow replacing embeddings made by another embedder.")] = False,
) -> None:
    """Embed the corpus (cached by content: re-runs and grown corpora embed only what is new)."""
    spec = embedder_spec(embedder, runtime=runtime, model=model, base_url=base_url,
                         dimensions=dimensions, vectors=vectors, vector_ids=vector_ids,
                         normalized=normalized)
    with progress_bar("embedding") as update:
        info = pipeline.embed(Workspace.open(workspace), spec, replace=replace,
                              on_progress=update)
    if info.get("skipped"):
        console.print(f"embeddings up to date: {info['documents']:,} × {info['dim']}")
        return
    rate = f", {info['docs_per_second']} docs/s" if info.get("docs_per_second") else ""
    console.print(f"embedded {info['documents']:,} documents ({info['embedded_now']:,} new, "
                  f"{info['seeded_from_precomputed']:,} precomputed{rate}) with "
                  f"{info['identity']['model']}")


def embedder_spec(kind: str, *, runtime: str | None = None, model: str | None = None,
                  base_url: str | None = None, dimensions: int | None = None,
                  vectors: Path | None = None, vector_ids: Path | None = None,
                  normalized: bool = True) -> dict:
    """Translate CLI options into an embedder spec for ``make_embedder``."""
    if kind == "minilm":
        return {"kind": "minilm", **({"runtime": runtime} if runtime else {})}
    if kind == "openai":
        spec: dict = {"kind": "openai"}
        for key, value in (("model", model), ("base_url", base_url), ("dimensions", dimensions)):
            if value is not None:
                spec[key] = value
        return spec
    if kind == "precomputed":
        if vectors is None or vector_ids is None:
            raise DisentangleError("--embedder precomputed needs --vectors FILE.npy and "
                                   "--vector-ids FILE.txt")
        return {"kind": "precomputed", "vectors_path": str(vectors), "ids_path": str(vector_ids),
                "model": model or "all-MiniLM-L6-v2", "normalized": normalized}
    raise DisentangleError(f"unknown embedder {kind!r}; use minilm, openai or precomputed")


@writes_workspace("train")
def train(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    n: Annotated[int, typer.Option(help="Dictionary size (number of features).")] = 3072,
    k: Annotated[int, typer.Option(help="Active features per document.")] = 32,
    epochs: Annotated[int, typer.Option(help="Passes over the training split.")] = 10,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 1024,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-4,
    seed: Annotated[int, typer.Option(help="Random seed (training is deterministic on CPU).")] = 0,
    val_fraction: Annotated[float, typer.Option(help="Held-out validation fraction.")] = 0.05,
    name: Annotated[str | None, typer.Option(
        help="SAE name (default n{N}-k{K}, plus -{ARCH} unless topk).")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    arch: ArchOption = "topk",
    prefixes: PrefixesOption = None,
) -> None:
    """Train an SAE (top-k, BatchTopK or Matryoshka) on the workspace's embeddings (resumes
    if interrupted)."""
    ws = Workspace.open(workspace)
    d = ws.embeddings().shape[1]
    sae_config = SAEConfig(d=d, n=n, k=k, architecture=arch,
                           prefixes=parse_prefixes(prefixes, d))
    train_config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                               val_fraction=val_fraction, device=device)
    name, result = run_training(ws, sae_config, train_config, name)
    print_training_summary(name, result.history)


def run_training(ws: Workspace, sae_config: SAEConfig, train_config: TrainConfig,
                 name: str | None) -> tuple[str, object]:
    """Train with a progress bar that shows the running loss."""
    with progress_bar("training", unit="steps") as update:
        def on_progress(event: dict) -> None:
            update(event["step"], event["steps_total"])

        return pipeline.train(ws, sae_config, train_config, name=name, on_progress=on_progress)


def print_training_summary(name: str, history: list[dict]) -> None:
    table = Table(title=f"SAE {name}: validation metrics per epoch")
    for column in ("epoch", "NMSE", "FVE", "L0", "dead"):
        table.add_column(column, justify="right")
    for row in history:
        val = row["val"]
        table.add_row(str(row["epoch"]), f"{val['nmse']:.4f}", f"{val['fve']:.4f}",
                      f"{val['l0']:.1f}", f"{val['dead_fraction']:.2%}")
    console.print(table)


@writes_workspace("encode")
def encode(workspace: WorkspaceOption = DEFAULT_WORKSPACE, sae: SaeOption = None) -> None:
    """Encode every document into its top-k features, with per-feature statistics."""
    with progress_bar("encoding") as update:
        name, codes = pipeline.encode(Workspace.open(workspace), sae, on_progress=update)
    console.print(f"encoded {len(codes):,} documents with {name} "
                  f"({codes.mean_active():.1f} active features per document on average, "
                  f"{codes.n_features} in all)")


def register(app: typer.Typer) -> None:
    for command in (ingest, embed, train, encode):
        app.command()(command)
