"""The stages that build a workspace: ingest, embed, train (or sweep), encode.

Every runner is safe to re-run: it skips work whose inputs have not changed, resumes work
that was interrupted, and refuses to mix data from different embedders or corpora.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

import numpy as np
import torch

from disentangle.codes import (
    CODE_SHARD_ROWS,
    SparseCodes,
    codes_from_tables,
    codes_table,
    encode_shards,
    feature_stats,
    shard_ranges,
)
from disentangle.corpus import LoadReport, corpus_hash
from disentangle.embed import (
    EmbeddingCache,
    PrecomputedEmbedder,
    embed_texts,
    make_embedder,
    query_embedder_for,
    seed_cache_from_precomputed,
    text_hash,
)
from disentangle.embed.specs import EmbedderSpec, MiniLM, as_dict
from disentangle.errors import DisentangleError
from disentangle.io import read_parquet, save_npy, write_json, write_parquet
from disentangle.ray_engine import RayChunks, RayEngine, encode_on_ray
from disentangle.sae.model import SAEConfig
from disentangle.sae.sweep import Member, run_sweep, summary
from disentangle.sae.trainer import TrainConfig, train_sae
from disentangle.stages.readers import corpus_texts, file_hash, open_sae, provenance
from disentangle.stages.reports import (
    EmbedReport,
    EncodeReport,
    IngestReport,
    SweepReport,
    TrainReport,
)
from disentangle.workspace import Workspace

Progress = Callable[[int, int], None]
TrainProgress = Callable[[dict[str, Any]], None]


def ingest(workspace: Workspace, report: LoadReport, sources: list[str]) -> IngestReport:
    """Store a loaded corpus; a no-op when the same corpus is already there."""
    table = report.table
    digest = corpus_hash(table)
    previous = workspace.stage("corpus")
    unchanged = (previous is not None and previous["corpus_hash"] == digest
                 and workspace.corpus_path.exists())
    if not unchanged:
        workspace.store_corpus(table, {
            "documents": table.num_rows, "corpus_hash": digest, "sources": sources,
            "read": report.read, "skipped_bad": report.skipped_bad,
            "duplicates": report.duplicates, "filtered_out": report.filtered_out})
    return IngestReport(documents=table.num_rows, corpus_hash=digest, read=report.read,
                        filtered_out=report.filtered_out, duplicates=report.duplicates,
                        skipped_bad=report.skipped_bad, unchanged=unchanged)


def embed(
    workspace: Workspace,
    spec: EmbedderSpec | None = None,
    *,
    replace: bool = False,
    on_progress: Progress | None = None,
    engine: RayEngine | None = None,
) -> EmbedReport:
    """Embed the corpus with ``spec`` (default: the local MiniLM), in this process or, with
    a ``RayEngine``, on a Ray cluster (the same cache shards either way).

    A ``Precomputed`` spec seeds the cache with its vectors and embeds any document it lacks
    with the live embedder of the same model, so growing a corpus embeds only what is new.
    """
    record = as_dict(spec or MiniLM())
    precomputed: PrecomputedEmbedder | None = None
    if record["kind"] == "precomputed":
        precomputed = make_embedder(record)  # type: ignore[assignment]
        identity = precomputed.identity
        live = None
    else:
        live = make_embedder(record)
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
        return EmbedReport.from_record(previous, unchanged=True)

    texts = corpus_texts(workspace)
    cache = EmbeddingCache(workspace.cache_root / identity.key(), identity)
    seeded = 0
    if precomputed is not None:
        ids = workspace.corpus().column("id").to_pylist()
        missing = seed_cache_from_precomputed(texts, ids, precomputed, cache)
        seeded = len(texts) - len(missing)
        if missing:
            live = query_embedder_for(identity, record)
    hashes = [text_hash(text) for text in texts]
    to_embed = len(cache.missing(hashes))
    started = time.perf_counter()
    if to_embed and live is None:
        raise DisentangleError(f"{to_embed} documents have no precomputed vector and no live "
                               "embedder is known for this model; restrict the corpus with "
                               "--ids or embed with a live embedder")
    on_ray = RayChunks(engine, live) if engine is not None and live and to_embed else None
    vectors = embed_texts(texts, live, cache, on_progress=on_progress,
                          run_chunks=on_ray) if live else cache.get(hashes)
    seconds = time.perf_counter() - started
    if on_ray is not None:
        device = on_ray.engine.describe(on_ray.run.actors, on_ray.run.devices or set())
    else:
        device = getattr(live, "running_on", None) if to_embed else None
    save_npy(workspace.embeddings_path, np.ascontiguousarray(vectors, dtype=np.float32))
    info = {"identity": identity.to_dict(), "spec": (live or precomputed).spec(),
            "documents": len(texts), "dim": int(vectors.shape[1]), "corpus_hash": digest,
            "seeded_from_precomputed": seeded, "embedded_now": to_embed,
            "seconds": round(seconds, 2), "device": device,
            "docs_per_second": round(to_embed / seconds, 1) if to_embed and seconds else None}
    workspace.record("embeddings", info)
    return EmbedReport.from_record(info, unchanged=False)


def train(
    workspace: Workspace,
    sae_config: SAEConfig,
    train_config: TrainConfig | None = None,
    *,
    name: str | None = None,
    on_progress: TrainProgress | None = None,
) -> TrainReport:
    """Train (or resume, or skip if finished) an SAE on the workspace's embeddings; the
    default name is ``n{n}-k{k}``, plus ``-{architecture}`` for the variants."""
    embeddings = workspace.embeddings()
    if embeddings.shape[1] != sae_config.d:
        raise DisentangleError(f"the SAE expects {sae_config.d}-d inputs but the embeddings "
                               f"are {embeddings.shape[1]}-d; leave --d unset")
    name = name or sae_config.name()
    result = train_sae(embeddings, sae_config, train_config or TrainConfig(),
                       workspace.sae_dir(name), provenance(workspace), on_progress=on_progress)
    return TrainReport(name, result)


def sweep(workspace: Workspace, members: list[Member],
          on_progress: TrainProgress | None = None) -> SweepReport:
    """Train every member of a grid in one pass over shared batches (finished members are
    loaded, interrupted ones resume), fit scaling laws and draw the figures."""
    from disentangle.sae import plots, scaling  # matplotlib only where figures are drawn

    results = run_sweep(workspace.embeddings(), members, workspace.sae_dir,
                        provenance(workspace), on_progress)
    rows = summary(results)
    fit = scaling.fit_all(rows)
    write_json(workspace.scaling_path, fit)
    figures = plots.all_figures(fit, {r.out_dir.name: r.history for r in results},
                                workspace.sweeps_dir)
    return SweepReport(results, rows, fit, [workspace.scaling_path, *figures])


def encode(workspace: Workspace, name: str | None = None, *,
           on_progress: Progress | None = None, engine: RayEngine | None = None,
           shard_rows: int = CODE_SHARD_ROWS) -> EncodeReport:
    """Sparse codes of every document under an SAE, plus per-feature statistics.

    Codes are written shard by shard (``shard_rows`` documents each) and assembled at the end,
    so an interrupted run resumes; in this process or, with a ``RayEngine``, on a Ray cluster,
    which writes the same shards (a run of one kind resumes a run of the other).
    """
    name, sae, _ = open_sae(workspace, name)
    folder = workspace.sae_folder(name)
    stage = f"codes/{name}"
    model_hash = file_hash(folder.weights_path)
    previous = workspace.stage(stage)
    if (previous is not None and previous["corpus_hash"] == workspace.corpus_hash()
            and previous["model_hash"] == model_hash and folder.codes_dir.is_dir()):
        return EncodeReport(name, SparseCodes.load(folder), unchanged=True)
    embeddings = workspace.embeddings()
    source = workspace.stage("embeddings") or {}
    run_key = hashlib.sha256(json.dumps(
        [model_hash, source.get("identity"), source.get("corpus_hash"), source.get("finished"),
         shard_rows], sort_keys=True).encode()).hexdigest()[:16]
    store = folder.encode_batches
    finished = store.by_first(run_key)
    shards = shard_ranges(embeddings.shape[0], shard_rows)
    todo = [(first, stop) for first, stop in shards if first not in finished]
    done = sum(stop - first for first, stop in shards if first in finished)
    # closing: an interrupted run stops the Ray pipeline (and frees its actors) at once.
    with closing(encode_on_ray(engine, sae, embeddings, todo) if engine is not None
                 else encode_shards(sae, embeddings, todo)) as results:
        for first, shard in results:
            write_parquet(store.path(run_key, first), codes_table(shard))
            done += len(shard)
            if on_progress is not None:
                on_progress(done, embeddings.shape[0])
    finished = store.by_first(run_key)
    width = sae.encode(torch.zeros(0, sae.config.d, device=sae.b_pre.device)).indices.shape[1]
    codes = codes_from_tables([read_parquet(finished[first]) for first, _ in shards], width,
                              sae.config.n)
    codes.save(folder)
    write_parquet(folder.feature_stats_path, feature_stats(codes))
    workspace.record(stage, {"corpus_hash": workspace.corpus_hash(), "model_hash": model_hash,
                             "documents": len(codes), "k": sae.config.k,
                             "n_features": sae.config.n})
    store.clear()
    return EncodeReport(name, codes, unchanged=False)
