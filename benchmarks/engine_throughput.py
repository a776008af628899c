"""Embed and encode throughput, in process against the Ray engine (a local Ray cluster the
command starts itself), each run a fresh `disentangle` process, the engines taking turns.

Embedding: the first ``--embed-docs`` abstracts of a workspace, embedded live by MiniLM
(ONNX) from an empty cache. Encoding: every document of the workspace under one of its SAEs.
Each run works on a private copy (the source workspace is only read). Reported per run: the
command's wall time (Python and Ray start-up included) and, for embedding, the stage's own
abstracts/s (the embed report's number); the table gives the median over ``--rounds``.

    python benchmarks/engine_throughput.py --workspace /work/ws-demo-main --sae n3072-k32
        [--embed-docs 400] [--rounds 2] [--cpus-per-actor 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import machine

from disentangle.workspace import Workspace

ENTRY = [sys.executable, "-c", "from disentangle.cli.main import run; run()"]


def embed_workspace(source: Workspace, root: Path, documents: int) -> Path:
    """A workspace of the first ``documents`` abstracts of ``source``, nothing embedded."""
    ws = Workspace.create(root)
    ws.store_corpus(source.corpus().slice(0, documents),
                    {"documents": documents, "corpus_hash": f"first-{documents}"})
    return root


def encode_workspace(source: Workspace, sae: str, root: Path) -> Path:
    """Corpus, embeddings and one SAE's weights and config of ``source``: what encode reads."""
    (root / "saes" / sae).mkdir(parents=True)
    for name in ("manifest.json", "corpus.parquet", "embeddings.npy"):
        shutil.copy2(source.root / name, root / name)
    folder = source.sae(sae)
    for path in (folder.weights_path, folder.config_path):
        shutil.copy2(path, root / "saes" / sae / path.name)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["stages"] = {k: v for k, v in manifest["stages"].items() if not k.startswith("codes")}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def run(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*ENTRY, *args], check=True, capture_output=True, text=True,
                   env={**os.environ, "COLUMNS": "200"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--sae", required=True)
    parser.add_argument("--embed-docs", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cpus-per-actor", type=int, default=1)
    options = parser.parse_args()
    source = Workspace.open(options.workspace)
    documents = source.embeddings().shape[0]
    engines = {"in-process": [], "ray": ["--engine", "ray", "--cpus-per-actor",
                                         str(options.cpus_per_actor)]}
    print(f"machine: {machine()}")
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(options.rounds):
            for engine, flags in (engines.items() if round_ % 2 == 0
                                  else reversed(engines.items())):
                root = Path(scratch) / f"embed-{engine}-{round_}"
                wall = run(["embed", "-w", str(embed_workspace(source, root,
                                                               options.embed_docs)), *flags])
                stage = Workspace.open(root).stage("embeddings")["docs_per_second"]
                results.setdefault(("embed", engine), []).append((wall, stage))
                shutil.rmtree(root)
                root = Path(scratch) / f"encode-{engine}-{round_}"
                wall = run(["encode", "-w", str(encode_workspace(source, options.sae, root)),
                            "--sae", options.sae, *flags])
                results.setdefault(("encode", engine), []).append((wall, documents / wall))
                shutil.rmtree(root)
                print(f"round {round_ + 1} {engine} done", flush=True)
    print(f"\n| stage | engine | documents | wall s (median of {options.rounds}) | "
          "documents/s | runs (wall s) |\n|---|---|---|---|---|---|")
    for (stage, engine), runs in results.items():
        count = options.embed_docs if stage == "embed" else documents
        walls = [w for w, _ in runs]
        rate = statistics.median(r for _, r in runs)
        basis = "stage's own" if stage == "embed" else "by wall time"
        print(f"| {stage} | {engine} | {count:,} | {statistics.median(walls):.1f} | "
              f"{rate:.1f} ({basis}) | {', '.join(f'{w:.1f}' for w in walls)} |")


if __name__ == "__main__":
    main()
