"""Commands for the stages that build a workspace: ingest, embed, train, encode."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from disentangle import stages
from disentangle.cli.options import (
    DEFAULT_WORKSPACE,
    TRAIN,
    AddressOption,
    ArchOption,
    AuxCoefOption,
    AuxKOption,
    BatchSizeOption,
    CpusPerActorOption,
    DeadStepsOption,
    DeviceOption,
    EngineOption,
    EpochsOption,
    GradClipOption,
    LrOption,
    PrefixesOption,
    SaeOption,
    SeedOption,
    ValFractionOption,
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
from disentangle.embed.specs import EmbedderSpec, MiniLM, OpenAICompatible, Precomputed
from disentangle.errors import DisentangleError
from disentangle.ray_engine import RayEngine
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
    stored = stages.ingest(Workspace.create(workspace), report, [str(p) for p in corpus])
    verb = "unchanged" if stored.unchanged else "stored"
    console.print(f"corpus {verb}: {stored.documents:,} documents in {workspace} "
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
    device: Annotated[str, typer.Option(
        help="minilm: auto (CUDA when torch sees a GPU), cpu or cuda; same vectors and cache "
             "on every device.")] = "auto",
    engine: EngineOption = "local",
    address: AddressOption = None,
    cpus_per_actor: CpusPerActorOption = 1,
) -> None:
    """Embed the corpus (cached by content: re-runs and grown corpora embed only what is new)."""
    spec = embedder_spec(embedder, runtime=runtime, model=model, base_url=base_url,
                         dimensions=dimensions, vectors=vectors, vector_ids=vector_ids,
                         normalized=normalized, device=device)
    with progress_bar("embedding") as update:
        done = stages.embed(Workspace.open(workspace), spec, replace=replace,
                            on_progress=update,
                            engine=engine_choice(engine, address, cpus_per_actor))
    if done.unchanged:
        console.print(f"embeddings up to date: {done.documents:,} × {done.dim}")
        return
    where = f" on {done.device}" if done.device else ""
    rate = f", {done.docs_per_second} abstracts/s{where}" if done.docs_per_second else ""
    console.print(f"embedded {done.documents:,} documents ({done.embedded_now:,} new, "
                  f"{done.seeded_from_precomputed:,} precomputed{rate}) with {done.model}")


def engine_choice(engine: str, address: str | None, cpus_per_actor: int) -> RayEngine | None:
    """``--engine`` as the stages take it: None runs in this process."""
    if engine == "local":
        if address is not None:
            raise DisentangleError("--address is for --engine ray; add --engine ray or drop it")
        return None
    if engine != "ray":
        raise DisentangleError(f"unknown engine {engine!r}; use local or ray")
    if cpus_per_actor < 1:
        raise DisentangleError(f"--cpus-per-actor must be at least 1, not {cpus_per_actor}")
    return RayEngine(address=address, cpus_per_actor=cpus_per_actor)


def embedder_spec(kind: str, *, runtime: str | None = None, model: str | None = None,
                  base_url: str | None = None, dimensions: int | None = None,
                  vectors: Path | None = None, vector_ids: Path | None = None,
                  normalized: bool = True, device: str = "auto") -> EmbedderSpec:
    """Translate CLI options into a typed embedder spec (unset options keep its defaults)."""
    if kind == "minilm":
        return MiniLM(runtime=runtime, device=device) if runtime else MiniLM(device=device)
    if kind == "openai":
        given = {"model": model, "base_url": base_url, "dimensions": dimensions}
        return OpenAICompatible(**{k: v for k, v in given.items() if v is not None})
    if kind == "precomputed":
        if vectors is None or vector_ids is None:
            raise DisentangleError("--embedder precomputed needs --vectors FILE.npy and "
                                   "--vector-ids FILE.txt")
        return Precomputed(vectors, vector_ids, normalized=normalized,
                           **({"model": model} if model else {}))
    raise DisentangleError(f"unknown embedder {kind!r}; use minilm, openai or precomputed")


@writes_workspace("train")
def train(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    n: Annotated[int, typer.Option(help="Dictionary size (number of features).")] = 3072,
    k: Annotated[int, typer.Option(help="Active features per document.")] = 32,
    epochs: EpochsOption = TRAIN.epochs,
    batch_size: BatchSizeOption = TRAIN.batch_size,
    lr: LrOption = TRAIN.lr,
    seed: SeedOption = TRAIN.seed,
    val_fraction: ValFractionOption = TRAIN.val_fraction,
    grad_clip: GradClipOption = TRAIN.grad_clip,
    aux_k: AuxKOption = TRAIN.aux_k,
    aux_coef: AuxCoefOption = TRAIN.aux_coef,
    dead_steps: DeadStepsOption = TRAIN.dead_steps,
    name: Annotated[str | None, typer.Option(
        help="SAE name (default n{N}-k{K}, plus -{ARCH} unless topk).")] = None,
    device: DeviceOption = TRAIN.device,
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
                               val_fraction=val_fraction, grad_clip=grad_clip, aux_k=aux_k,
                               aux_coef=aux_coef, dead_steps=dead_steps, device=device)
    trained = run_training(ws, sae_config, train_config, name)
    print_training_summary(trained.name, trained.history)


def run_training(ws: Workspace, sae_config: SAEConfig, train_config: TrainConfig,
                 name: str | None) -> stages.TrainReport:
    """Train with a progress bar."""
    with progress_bar("training", unit="steps") as update:
        def on_progress(event: dict) -> None:
            update(event["step"], event["steps_total"])

        return stages.train(ws, sae_config, train_config, name=name, on_progress=on_progress)


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
def encode(workspace: WorkspaceOption = DEFAULT_WORKSPACE, sae: SaeOption = None,
           engine: EngineOption = "local", address: AddressOption = None,
           cpus_per_actor: CpusPerActorOption = 1) -> None:
    """Encode every document into its top-k features, with per-feature statistics (resumes
    if interrupted)."""
    with progress_bar("encoding") as update:
        done = stages.encode(Workspace.open(workspace), sae, on_progress=update,
                             engine=engine_choice(engine, address, cpus_per_actor))
    codes = done.codes
    console.print(f"encoded {len(codes):,} documents with {done.name} "
                  f"({codes.mean_active():.1f} active features per document on average, "
                  f"{codes.n_features} in all)")


def register(app: typer.Typer) -> None:
    for command in (ingest, embed, train, encode):
        app.command()(command)
