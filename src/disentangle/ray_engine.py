"""Ray as the engine of the embarrassingly parallel stages, embed and encode.

The driver (this process) plans the work exactly as the in-process path does, the same
chunks of not-yet-cached texts and the same row shards of the embeddings, and ships each as
one block of a Ray Data pipeline: ``from_arrow(blocks).map_batches(actor pool)``, one actor
per GPU, or per ``cpus_per_actor`` CPUs where the cluster has none. The driver alone writes:
each chunk or shard that comes back becomes the same cache shard or code shard an in-process
run writes, so a Ray run resumes a local one and the other way round. Workers need no shared
file system: the blocks travel through Ray's object store.

Ray is optional (``pip install -e '.[ray]'``) and is imported only here, only when a run asks
for it.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.codes import SparseCodes, encode_shards
from disentangle.embed.batching import Chunk
from disentangle.embed.identity import Embedder
from disentangle.errors import DisentangleError
from disentangle.sae.model import TopKSAE

MISSING = "--engine ray needs Ray, which is not installed; install it with pip install -e '.[ray]'"


@dataclass(frozen=True)
class RayEngine:
    """Where and how wide to run: ``address`` None starts a local Ray for the run (or joins
    the one ``RAY_ADDRESS`` names), ``"auto"`` joins a running cluster, ``"ray://host:10001"``
    a remote one through Ray Client. A Ray already initialised in this process is used as is."""

    address: str | None = None
    cpus_per_actor: int = 1

    def describe(self, actors: int, devices: set[str]) -> str:
        return f"ray ({actors} actor{'s' * (actors != 1)} on {', '.join(sorted(devices))})"


@dataclass
class RayRun:
    """What a finished run used, for the report: actor count and the devices they ran on."""

    actors: int = 0
    devices: set[str] | None = None


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DisentangleError(MISSING) from None
    return ray


@contextmanager
def _cluster(engine: RayEngine) -> Iterator[Any]:
    """Ray, initialised for the run (and shut down after, if this run started it)."""
    ray = _ray()
    # Ray's notice that it will stop hiding GPUs from CPU actors: it still does in 2.52, which
    # is what keeps device "auto" on the CPU in a CPU actor.
    warnings.filterwarnings("ignore", message=".*accelerator visible devices.*")
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=engine.address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DisentangleError(f"cannot reach Ray at {engine.address or 'a local cluster'} "
                                   f"({first}); check --address or start the cluster "
                                   "with `ray start --head`") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI draws its own
    context.execution_options.preserve_order = True
    # Ray Data's advice on object store sizing and its start-up resource notices are not
    # the user's business here; errors still show.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _pool(ray: Any, engine: RayEngine, use_gpu: bool, blocks: int) -> dict[str, Any]:
    """``map_batches`` arguments for one actor per GPU, else one per ``cpus_per_actor`` CPUs
    (never more actors than blocks: an idle actor costs a process and a model load)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = int(resources.get("CPU", 0))
    if engine.cpus_per_actor > cpus:
        raise DisentangleError(f"--cpus-per-actor {engine.cpus_per_actor} but the Ray cluster "
                               f"has {cpus} CPUs; ask for at most {cpus}")
    if use_gpu and gpus:
        actors, extra = min(gpus, blocks), {"num_gpus": 1}
    else:
        actors, extra = max(1, min(cpus // engine.cpus_per_actor, blocks)), {}
    return {"compute": ray.data.ActorPoolStrategy(size=actors),
            "num_cpus": engine.cpus_per_actor, **extra}


def _run_parts(ray: Any, blocks: Iterable[pa.Table], actor: type, args: tuple[Any, ...],
               pool: dict[str, Any]) -> Iterator[dict[str, np.ndarray]]:
    """The output of each block (column ``part``), whole, in the order blocks finish.

    A block is one batch (``batch_size=None``), so an actor sees exactly what an in-process
    run computes at once; pieces are still regrouped by ``part`` in case Ray splits a block.
    """
    expected, refs = {}, []
    for block in blocks:  # each into the object store at once: the driver holds one at a time
        expected[int(block.column("part")[0].as_py())] = block.num_rows
        refs.append(ray.put(block))
    dataset = ray.data.from_arrow_refs(refs).map_batches(
        actor, fn_constructor_args=args, batch_size=None, batch_format="numpy", **pool)
    pieces: dict[int, list[dict[str, np.ndarray]]] = {}
    batches = dataset.iter_batches(batch_size=None, batch_format="numpy")
    try:
        for batch in batches:
            if "error" in batch:
                raise DisentangleError(str(batch["error"][0]))
            for part in np.unique(batch["part"]):
                rows = batch["part"] == part
                got = pieces.setdefault(int(part), [])
                got.append({name: column[rows] for name, column in batch.items()})
                if sum(len(p["part"]) for p in got) == expected[int(part)]:
                    merged = {name: np.concatenate([p[name] for p in got]) for name in got[0]}
                    order = np.argsort(merged["row"], kind="stable")
                    yield {name: column[order] for name, column in merged.items()}
                    del pieces[int(part)]
    finally:
        # An interrupted run stops the pipeline now, so its actors free their CPUs and GPUs.
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _one_line_errors(compute: Callable[[Any, dict[str, np.ndarray]], dict[str, np.ndarray]],
                     ) -> Callable[[Any, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """An actor's ``DisentangleError`` comes back as data (Ray Data would wrap it in its own
    exception and keep only the worker's traceback text); the driver raises it again."""

    @functools.wraps(compute)
    def call(self: Any, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return compute(self, batch)
        except DisentangleError as error:
            return {"part": batch["part"][:1], "error": np.array([str(error)])}

    return call


class _EmbedActor:
    """One embedder per actor, loaded once, then fed chunk after chunk."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        load = getattr(embedder, "load", None)
        if load is not None:
            load()
        self.device = getattr(embedder, "running_on", None) or "cpu"

    @_one_line_errors
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]])
        return {"part": batch["part"], "row": batch["row"], "hash": batch["hash"],
                "vectors": vectors, "device": np.full(len(vectors), self.device)}


class RayChunks:
    """A ``ChunkRunner`` (see ``embed.batching``) that embeds the chunks on Ray."""

    def __init__(self, engine: RayEngine, embedder: Embedder) -> None:
        self.engine = engine
        self.embedder = embedder
        self.run = RayRun()

    def __call__(self, chunks: list[Chunk]) -> Iterator[tuple[list[str], np.ndarray]]:
        device = getattr(self.embedder, "device", "cpu")
        with _cluster(self.engine) as ray:
            pool = _pool(ray, self.engine, use_gpu=device != "cpu", blocks=len(chunks))
            if device == "cuda" and "num_gpus" not in pool:
                raise DisentangleError("--device cuda, but the Ray cluster has no GPU; use "
                                       "--device cpu (or auto), or add GPU nodes to the cluster")
            blocks, first = [], 0
            for part, chunk in enumerate(chunks):
                blocks.append(pa.table({
                    "part": pa.array(np.full(len(chunk), part, np.int64)),
                    "row": pa.array(np.arange(first, first + len(chunk), dtype=np.int64)),
                    "hash": [h for h, _ in chunk], "text": [t for _, t in chunk]}))
                first += len(chunk)
            self.run = RayRun(actors=pool["compute"].max_size, devices=set())
            for out in _run_parts(ray, blocks, _EmbedActor, (self.embedder,), pool):
                self.run.devices.update(str(d) for d in np.unique(out["device"]))
                yield [str(h) for h in out["hash"]], np.asarray(out["vectors"], np.float32)


class _EncodeActor:
    """One copy of the SAE per actor (on its GPU, if Ray gave it one)."""

    def __init__(self, sae: TopKSAE) -> None:
        import torch

        self.sae = sae.to("cuda") if torch.cuda.is_available() else sae
        self.device = "cuda" if torch.cuda.is_available() else "cpu"

    @_one_line_errors
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = batch["row"]
        ((_, codes),) = encode_shards(self.sae, np.asarray(batch["embedding"], np.float32),
                                      [(0, len(rows))])
        return {"part": batch["part"], "row": rows, "indices": codes.indices,
                "values": codes.values, "device": np.full(len(rows), self.device)}


def encode_on_ray(engine: RayEngine, sae: TopKSAE, embeddings: np.ndarray,
                  shards: Sequence[tuple[int, int]],
                  run: RayRun | None = None) -> Iterator[tuple[int, SparseCodes]]:
    """``(first, codes)`` of each shard ``(first, stop)`` as it finishes on Ray; the same
    codes ``codes.encode_shards`` computes in process for the same shards."""
    if not shards:
        return
    with _cluster(engine) as ray:
        from ray.data.extensions import ArrowTensorArray as tensor

        pool = _pool(ray, engine, use_gpu=True, blocks=len(shards))
        blocks = (pa.table({
            "part": pa.array(np.full(stop - first, first, np.int64)),
            "row": pa.array(np.arange(first, stop, dtype=np.int64)),
            "embedding": tensor.from_numpy(np.array(embeddings[first:stop], np.float32))})
            for first, stop in shards)
        if run is not None:
            run.actors, run.devices = pool["compute"].max_size, set()
        for out in _run_parts(ray, blocks, _EncodeActor, (sae.cpu(),), pool):
            if run is not None and run.devices is not None:
                run.devices.update(str(d) for d in np.unique(out["device"]))
            yield int(out["part"][0]), SparseCodes(np.asarray(out["indices"], np.int32),
                                                   np.asarray(out["values"], np.float32),
                                                   sae.config.n)
