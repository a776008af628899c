"""The interpretation stage: label and score every feature of an SAE."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from disentangle.errors import DisentangleError
from disentangle.interpret import (
    ChatClient,
    ChatConfig,
    LLMBackend,
    OfflineBackend,
    interpret_features,
    plot_scores,
    summarize,
)
from disentangle.io import write_json, write_parquet
from disentangle.stages.readers import codes, corpus_texts, open_sae, query_embedder
from disentangle.stages.reports import InterpretReport
from disentangle.workspace import Workspace

BACKENDS = ("offline", "llm")


def interpret(
    workspace: Workspace,
    name: str | None = None,
    *,
    backend: str = "offline",
    features: list[int] | None = None,
    llm_config: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> InterpretReport:
    """Label and score features; writes the features table and a score summary.

    Resumable: finished batches of features are kept in the SAE folder and skipped on
    re-run, so an interrupted LLM run never pays twice.
    """
    name, _, _ = open_sae(workspace, name)
    folder = workspace.sae_folder(name)
    sae_codes = codes(workspace, name)
    texts = corpus_texts(workspace)
    embeddings = workspace.embeddings()
    embedder = query_embedder(workspace)
    if backend == "offline":
        labeller = OfflineBackend(texts, embeddings, embedder)
    elif backend == "llm":
        client = ChatClient(ChatConfig.load(llm_config), cache_dir=workspace.cache_root / "llm")
        labeller = LLMBackend(texts, client)
    else:
        raise DisentangleError(f"unknown backend {backend!r}; use {' or '.join(BACKENDS)}")
    total, done = len(features) if features is not None else sae_codes.n_features, 0

    def advance(batch: int) -> None:
        nonlocal done
        done += batch
        if on_progress is not None:
            on_progress(done, total)

    table = interpret_features(texts, sae_codes, embeddings, labeller,
                               folder.interpret_batches, features=features,
                               stats=folder.feature_stats(), on_batch=advance,
                               embedder=embedder)
    ids = workspace.corpus().column("id")
    top_ids = [ids.take(pa.array(rows, pa.int64())).to_pylist()
               for rows in table.column("top_rows").to_pylist()]
    table = table.append_column("top_ids", pa.array(top_ids, pa.list_(pa.string())))
    write_parquet(folder.features_path, table)
    write_json(folder.features_json_path, table.drop_columns(["top_rows"]).to_pylist())
    summary = summarize(table)
    write_json(folder.interpret_summary_path, summary)
    plot_scores(table, folder.scores_plot_path)
    return InterpretReport(name, table, summary)
