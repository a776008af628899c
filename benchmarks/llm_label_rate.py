"""LLM labelling throughput: features per minute against a local fake OpenAI-compatible server.

The server is the tests' fake (``tests/interpret/fake_chat.py``), with a latency injected into
every answer; the labeller is the real one (``interpret_features`` with ``LLMBackend`` and its
``ChatClient``: thread pool of ``concurrency`` requests, retries with backoff, on-disk cache),
over the first features of a workspace SAE with the default example sizes (one labelling
request and 16 prediction requests of 20 abstracts per feature). Each run starts with an empty
cache in a temporary folder and writes nothing into the workspace. The ``429`` run answers one
request in ``--reject-every`` with HTTP 429 (once per prompt), to show the back-off at work;
the ``resume`` run repeats the last run on its cache: every answer comes from disk. Usage::

    python benchmarks/llm_label_rate.py --workspace ws-demo [--latency 0.3]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interpret"))
from fake_chat import chat_reply, serve  # the tests' fake server, reused

from disentangle.interpret import (
    ChatClient,
    ChatConfig,
    InterpretConfig,
    LLMBackend,
    interpret_features,
)
from disentangle.stages import codes, corpus_texts
from disentangle.workspace import BatchStore, Workspace

ITEM = re.compile(r"^(\d+)\. ", re.MULTILINE)


class SlowServer:
    """Answers after ``latency`` seconds: a label for labelling prompts, a score per item for
    prediction prompts; rejects every ``reject_every``-th new prompt once with HTTP 429."""

    def __init__(self, latency: float, reject_every: int = 0) -> None:
        self.latency = latency
        self.reject_every = reject_every
        self.seen: set[str] = set()
        self.requests = 0
        self.rejected = 0
        self.lock = threading.Lock()

    def answer(self, body: dict) -> tuple[int, dict]:
        prompt = body["messages"][-1]["content"]
        with self.lock:
            self.requests += 1
            reject = (self.reject_every and prompt not in self.seen
                      and self.requests % self.reject_every == 0)
            self.seen.add(prompt)
            self.rejected += bool(reject)
        time.sleep(self.latency)
        if reject:
            return 429, {"error": {"message": "rate limited"}}
        if "Work step by step" in prompt:
            return chat_reply("Shared: a topic.\nLABEL: a synthetic topic")
        items = ITEM.findall(prompt.split("LABEL:", 1)[-1])
        return chat_reply("\n".join(f"{n}: 0.5" for n in items))


def run(workspace: Workspace, name: str, features: int, concurrency: int, latency: float,
        reject_every: int = 0, cache: Path | None = None) -> dict:
    fake = SlowServer(latency, reject_every)
    httpd, url = serve(fake.answer)
    try:
        config = replace(ChatConfig(base_url=url, model="fake", api_key_env="NO_KEY_NEEDED"),
                         concurrency=concurrency, backoff_s=0.5)
        with tempfile.TemporaryDirectory() as out:
            client = ChatClient(config, cache or Path(out) / "cache")
            texts = corpus_texts(workspace)
            backend = LLMBackend(texts, client)
            start = time.perf_counter()
            interpret_features(texts, codes(workspace, name), workspace.embeddings(), backend,
                               BatchStore(Path(out) / "batches"), features=range(features),
                               config=InterpretConfig(batch_size=max(features, 1)))
            seconds = time.perf_counter() - start
    finally:
        httpd.shutdown()
        httpd.server_close()
    return {"features": features, "concurrency": concurrency, "latency_s": latency,
            "seconds": seconds, "features_per_minute": 60 * features / seconds,
            "requests": fake.requests, "rejected_429": fake.rejected, **client.counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--sae", default=None)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--reject-every", type=int, default=5)
    args = parser.parse_args()
    workspace = Workspace.open(args.workspace)
    name = workspace.resolve_sae(args.sae)
    latency = args.latency
    plan = [  # (features, concurrency, latency, reject_every): 20-40 s of requests each
        (6, 1, latency, 0), (32, 8, latency, 0), (96, 32, latency, 0),
        (96, 32, 0.0, 0),  # no latency: the client side's own ceiling on this machine
        (32, 8, latency, args.reject_every)]
    print("| features | concurrency | latency ms | 429s injected | requests | retries | "
          "wall s | features/min |")
    print("|---|---|---|---|---|---|---|---|")

    def show(label: object, result: dict) -> None:
        print(f"| {label} | {result['concurrency']} | {1000 * result['latency_s']:.0f} | "
              f"{result['rejected_429']} | {result['requests']} | {result['retries']} | "
              f"{result['seconds']:.1f} | {result['features_per_minute']:.0f} |", flush=True)

    with tempfile.TemporaryDirectory() as kept:
        for features, concurrency, wait, reject in plan:
            cache = Path(kept) / "cache" if reject else None
            show(features, run(workspace, name, features, concurrency, wait, reject, cache))
        show("32 (resumed: cache)",
             run(workspace, name, 32, 8, latency, 0, Path(kept) / "cache"))
    print(f"SAE {name} of {workspace.root}; 429s answered with backoff 0.5 s, doubling")


if __name__ == "__main__":
    main()
