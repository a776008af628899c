"""The Python API: each stage of the flow run against a :class:`Workspace`.

corpus → embeddings → SAE → sparse codes → search. Every function here is safe to re-run:
it skips work whose inputs have not changed, resumes work that was interrupted, and refuses
to mix data from different embedders or corpora.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.codes import SparseCodes, encode_embeddings, feature_stats
from disentangle.corpus import LoadReport, corpus_hash, document_text
from disentangle.embed import (
    Embedder,
    EmbedderIdentity,
    EmbeddingCache,
    PrecomputedEmbedder,
    embed_texts,
    make_embedder,
    query_embedder_for,
    seed_cache_from_precomputed,
    text_hash,
)
from disentangle.errors import DisentangleError
from disentangle.families import Family, families_from_table
from disentangle.interpret import (
    ChatClient,
    ChatConfig,
    LLMBackend,
    OfflineBackend,
    interpret_features,
    plot_scores,
    summarize,
)
from disentangle.io import read_json, read_parquet, save_npy, write_json, write_parquet
from disentangle.sae.checkpoint import check_compatible, load_sae
from disentangle.sae.model import SAEConfig, TopKSAE
from disentangle.sae.trainer import TrainConfig, TrainResult, train_sae
from disentangle.search import FaissIndex, IndexKind, Searcher
from disentangle.workspace import Workspace

Progress = Callable[[int, int], None]


def ingest(workspace: Workspace, report: LoadReport, sources: list[str]) -> dict[str, Any]:
    """Store a loaded corpus; a no-op when the same corpus is already there."""
    table = report.table
    digest = corpus_hash(table)
    previous = workspace.stage("corpus")
    if previous is not None and previous["corpus_hash"] == digest:
        return {**previous, "skipped": True}
    write_parquet(workspace.corpus_path, table)
    info = {"documents": table.num_rows, "corpus_hash": digest, "sources": sources,
            "read": report.read, "skipped_bad": report.skipped_bad,
            "duplicates": report.duplicates, "filtered_out": report.filtered_out}
    workspace.record("corpus", info)
    workspace._corpus = None
    return info


def corpus_texts(workspace: Workspace) -> list[str]:
    """The text embedded for each document: title and abstract, as the paper does."""
    corpus = workspace.corpus()
    return [document_text(title, abstract) for title, abstract in
            zip(corpus.column("title").to_pylist(), corpus.column("abstract").to_pylist(),
                strict=True)]


def embed(
    workspace: Workspace,
    spec: dict[str, Any],
    *,
    replace: bool = False,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Embed the corpus with the embedder described by ``spec`` (see ``make_embedder``).

    A ``precomputed`` spec seeds the cache with its vectors and embeds any document it lacks
    with the live embedder of the same model, so growing a corpus embeds only what is new.
    """
    precomputed: PrecomputedEmbedder | None = None
    if spec.get("kind") == "precomputed":
        precomputed = make_embedder(spec)  # type: ignore[assignment]
        identity = precomputed.identity
        live = None
    else:
        live = make_embedder(spec)
        identity = live.identity
    previous = workspace.stage("embeddings")
    if previous is not None and previous["identity"] != identity.to_dict() and not replace:
        old = previous["identity"]
        raise DisentangleError(
            f"workspace {workspace.root} holds {old['model']} ({old['dim']}-d) embeddings; "
            f"embedding with {identity.model} would invalidate its SAEs; use a new "
            "--workspace or pass --replace")
    digest = workspace.corpus_hash()
    if (previous is not None and previous["identity"] == identity.to_dict()
            and previous["corpus_hash"] == digest and workspace.embeddings_path.exists()):
        return {**previous, "skipped": True}

    texts = corpus_texts(workspace)
    cache = EmbeddingCache(workspace.cache_root / identity.key(), identity)
    seeded = 0
    if precomputed is not None:
        ids = workspace.corpus().column("id").to_pylist()
        missing = seed_cache_from_precomputed(texts, ids, precomputed, cache)
        seeded = len(texts) - len(missing)
        if missing:
            live = query_embedder_for(identity, spec)
    hashes = [text_hash(text) for text in texts]
    to_embed = len(cache.missing(hashes))
    started = time.perf_counter()
    if to_embed and live is None:
        raise DisentangleError(f"{to_embed} documents have no precomputed vector and no live "
                               "embedder is known for this model; restrict the corpus with "
                               "--ids or embed with a live embedder")
    vectors = embed_texts(texts, live, cache, on_progress=on_progress) if live else \
        cache.get(hashes)
    seconds = time.perf_counter() - started
    save_npy(workspace.embeddings_path, np.ascontiguousarray(vectors, dtype=np.float32))
    info = {"identity": identity.to_dict(), "spec": (live or precomputed).spec(),
            "documents": len(texts), "dim": int(vectors.shape[1]), "corpus_hash": digest,
            "seeded_from_precomputed": seeded, "embedded_now": to_embed,
            "seconds": round(seconds, 2),
            "docs_per_second": round(to_embed / seconds, 1) if to_embed and seconds else None}
    workspace.record("embeddings", info)
    return info


def train(
    workspace: Workspace,
    sae_config: SAEConfig,
    train_config: TrainConfig,
    *,
    name: str | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[str, TrainResult]:
    """Train (or resume, or skip if finished) an SAE on the workspace's embeddings; the
    default name is ``n{n}-k{k}``, plus ``-{architecture}`` for the variants."""
    embeddings = workspace.embeddings()
    if embeddings.shape[1] != sae_config.d:
        raise DisentangleError(f"the SAE expects {sae_config.d}-d inputs but the embeddings "
                               f"are {embeddings.shape[1]}-d; leave --d unset")
    name = name or sae_config.name()
    result = train_sae(embeddings, sae_config, train_config, workspace.sae_dir(name),
                       provenance(workspace), on_progress=on_progress)
    return name, result


def provenance(workspace: Workspace) -> dict[str, Any]:
    """What an SAE checkpoint records about its inputs, so it is never applied to the wrong
    vectors (checked by ``check_compatible``)."""
    return {"embedder": workspace.embedder_identity(), "corpus_hash": workspace.corpus_hash(),
            "input_normalization": "none: embeddings are used as the embedder returns them "
                                   "(see embedder.normalized)"}


def load_workspace_sae(workspace: Workspace, name: str | None = None) -> tuple[str, TopKSAE,
                                                                               dict[str, Any]]:
    """Load a trained SAE after checking it was trained on this workspace's embedder."""
    name = workspace.resolve_sae(name)
    sae, meta = load_sae(workspace.sae_dir(name))
    check_compatible(meta, workspace.embedder_identity())
    return name, sae, meta


def encode(
    workspace: Workspace,
    name: str | None = None,
    *,
    on_progress: Progress | None = None,
) -> tuple[str, SparseCodes]:
    """Sparse codes of every document under an SAE, plus per-feature statistics."""
    name, sae, _ = load_workspace_sae(workspace, name)
    stage = f"codes/{name}"
    model_hash = _file_hash(workspace.sae_dir(name) / "model.safetensors")
    previous = workspace.stage(stage)
    codes_dir = workspace.codes_dir(name)
    if (previous is not None and previous["corpus_hash"] == workspace.corpus_hash()
            and previous["model_hash"] == model_hash):
        return name, SparseCodes.load(codes_dir)
    embeddings = workspace.embeddings()
    total, done = embeddings.shape[0], 0

    def advance(batch: int) -> None:
        nonlocal done
        done += batch
        if on_progress is not None:
            on_progress(done, total)

    codes = encode_embeddings(sae, embeddings, on_batch=advance)
    codes.save(codes_dir)
    write_parquet(codes_dir / "feature_stats.parquet", feature_stats(codes))
    workspace.record(stage, {"corpus_hash": workspace.corpus_hash(), "model_hash": model_hash,
                             "documents": len(codes), "k": sae.config.k,
                             "n_features": sae.config.n})
    return name, codes


def codes_of(workspace: Workspace, name: str) -> SparseCodes:
    """The stored codes of an SAE, refusing codes of an earlier corpus or model."""
    record = workspace.require(f"codes/{name}", f"encode --sae {name}")
    if record["corpus_hash"] != workspace.corpus_hash():
        raise DisentangleError(f"the codes of {name} belong to an earlier corpus; run "
                               f"`disentangle encode --workspace {workspace.root} --sae {name}`")
    return SparseCodes.load(workspace.codes_dir(name))


def searcher(workspace: Workspace, name: str | None = None,
             embedder: Embedder | None = None, index: IndexKind = "exact") -> Searcher:
    """A ready :class:`Searcher` over the workspace with the given (or latest) SAE, with
    feature labels and families when ``interpret`` and ``families build`` have run.
    ``index`` "hnsw" or "ivf" uses the workspace's approximate index, built on first use."""
    name, sae, _ = load_workspace_sae(workspace, name)
    families = workspace_families(workspace, name)
    return Searcher(workspace.embeddings(), workspace.corpus(), sae, codes_of(workspace, name),
                    embedder or query_embedder(workspace), labels=feature_labels(workspace, name),
                    families={f.id: f.members for f in families},
                    family_labels={f.id: f.label for f in families if f.label},
                    index=index if index == "exact" else ann_index(workspace, index),
                    secondary=secondary_features(workspace, name))


def ann_index(workspace: Workspace, kind: IndexKind) -> FaissIndex:
    """The workspace's HNSW or IVF index over its embeddings: loaded from ``indexes/`` when it
    was built from the current embeddings, else built (minutes for millions of rows) and
    saved, the index file before the record that vouches for it."""
    if kind not in ("hnsw", "ivf"):
        raise DisentangleError(f"unknown search index {kind!r}; use exact, or hnsw or ivf "
                               "(approximate)")
    embeddings = workspace.embeddings()
    built_from = workspace.require("embeddings", "embed")
    path, record_path = workspace.index_path(kind), workspace.index_path(kind).with_suffix(".json")
    if path.exists() and record_path.exists() and read_json(record_path) == built_from:
        return FaissIndex.load(path, embeddings, kind)
    index = FaissIndex.build(embeddings, kind)
    index.save(path)
    write_json(record_path, built_from)
    return index


def workspace_families(workspace: Workspace, name: str) -> list[Family]:
    """Families written by ``disentangle families build``, or none."""
    path = workspace.sae_dir(name) / "families.parquet"
    return families_from_table(read_parquet(path)) if path.exists() else []


def feature_labels(workspace: Workspace, name: str) -> dict[int, str] | None:
    """Feature labels written by ``disentangle interpret``, when they exist."""
    path = workspace.sae_dir(name) / "features.parquet"
    if not path.exists():
        return None
    table = read_parquet(path, columns=["feature", "label"])
    return dict(zip(table.column("feature").to_pylist(), table.column("label").to_pylist(),
                    strict=True))


def secondary_features(workspace: Workspace, name: str) -> list[int]:
    """Features a label lookup prefers others to: duplicates of another's label, and mixed
    features (see :class:`disentangle.search.FeatureResolver`)."""
    path = workspace.sae_dir(name) / "features.parquet"
    if not path.exists():
        return []
    table = read_parquet(path)
    secondary = np.zeros(table.num_rows, bool)
    if "duplicate_of" in table.column_names:
        secondary |= table.column("duplicate_of").to_numpy() >= 0
    if "mixed" in table.column_names:
        secondary |= table.column("mixed").to_numpy(zero_copy_only=False).astype(bool)
    return table.column("feature").to_numpy()[secondary].tolist()


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def query_embedder(workspace: Workspace) -> Embedder:
    """A live embedder that maps text into the space of the workspace's embeddings."""
    record = workspace.require("embeddings", "embed")
    return query_embedder_for(EmbedderIdentity.from_dict(record["identity"]), record["spec"])


def interpret(
    workspace: Workspace,
    name: str | None = None,
    *,
    backend: str = "offline",
    features: list[int] | None = None,
    llm_config: Path | None = None,
    on_progress: Progress | None = None,
) -> tuple[str, pa.Table, dict[str, Any]]:
    """Label and score features; writes ``features.parquet``/``.json`` and a score summary.

    Resumable: finished batches of features are kept under ``<sae>/interpret/partial`` and
    skipped on re-run, so an interrupted LLM run never pays twice.
    """
    name, _, _ = load_workspace_sae(workspace, name)
    codes = codes_of(workspace, name)
    texts = corpus_texts(workspace)
    embeddings = workspace.embeddings()
    if backend == "offline":
        labeller = OfflineBackend(texts, embeddings, query_embedder(workspace))
    elif backend == "llm":
        client = ChatClient(ChatConfig.load(llm_config), cache_dir=workspace.cache_root / "llm")
        labeller = LLMBackend(texts, client)
    else:
        raise DisentangleError(f"unknown backend {backend!r}; use offline or llm")
    sae_dir = workspace.sae_dir(name)
    stats = read_parquet(workspace.codes_dir(name) / "feature_stats.parquet")
    total, done = len(features) if features is not None else codes.n_features, 0

    def advance(batch: int) -> None:
        nonlocal done
        done += batch
        if on_progress is not None:
            on_progress(done, total)

    table = interpret_features(texts, codes, embeddings, labeller, sae_dir / "interpret",
                               features=features, stats=stats, on_batch=advance)
    ids = workspace.corpus().column("id")
    top_ids = [ids.take(pa.array(rows, pa.int64())).to_pylist()
               for rows in table.column("top_rows").to_pylist()]
    table = table.append_column("top_ids", pa.array(top_ids, pa.list_(pa.string())))
    write_parquet(sae_dir / "features.parquet", table)
    write_json(sae_dir / "features.json", table.drop_columns(["top_rows"]).to_pylist())
    summary = summarize(table)
    write_json(sae_dir / "interpret" / "summary.json", summary)
    plot_scores(table, sae_dir / "interpret" / "scores.png")
    return name, table, summary


def features_table(workspace: Workspace, name: str | None = None) -> tuple[str, pa.Table]:
    """The labelled features of an SAE, or a clear error saying how to make them."""
    return stored_table(workspace, name, "features.parquet", "feature labels", "interpret")


def stored_table(workspace: Workspace, name: str | None, filename: str, what: str,
                 command: str) -> tuple[str, pa.Table]:
    """A table a later command stored beside an SAE, or an error naming that command."""
    name = workspace.resolve_sae(name)
    path = workspace.sae_dir(name) / filename
    if not path.exists():
        raise DisentangleError(f"SAE {name} has no {what} yet; run `disentangle {command} "
                               f"--workspace {workspace.root} --sae {name}`")
    return name, read_parquet(path)
