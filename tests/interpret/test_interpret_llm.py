"""The LLM back end against a local fake OpenAI-compatible server (no network, no key)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fake_chat import chat_reply
from planted_corpus import Corpus, make_corpus

from disentangle.errors import DisentangleError
from disentangle.interpret import (
    ChatClient,
    ChatConfig,
    ExampleConfig,
    InterpretConfig,
    LLMBackend,
    interpret_features,
)
from disentangle.interpret.llm import parse_label, parse_scores
from disentangle.workspace import BatchStore

CONFIG = InterpretConfig(
    examples=ExampleConfig(min_label_chars=100, score_top=4, score_active=5, score_random=5,
                           score_hard=5),
    batch_size=2,
)


class FakeLLM:
    """Answers label prompts with a fixed label, prediction prompts by keyword; can misbehave."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.failures: list[str] = []  # consumed one per request: "500", "429", "slow"
        self.predict_answer: Callable[[str], str] = self.by_keyword
        self.lock = threading.Lock()

    @staticmethod
    def by_keyword(prompt: str) -> str:
        items = re.findall(r"^(\d+)\. (.*)$", prompt.split("LABEL:", 1)[1], re.MULTILINE)
        return "\n".join(f"{n}: {0.9 if 'exoplanet' in text else -0.8}" for n, text in items)

    def answer(self, body: dict) -> tuple[int, dict]:
        with self.lock:
            failure = self.failures.pop(0) if self.failures else ""
            if not failure:
                self.requests.append(body)
        if failure == "slow":
            time.sleep(0.5)
        if failure in ("500", "429"):
            return int(failure), {"error": "try again"}
        prompt = body["messages"][-1]["content"]
        return chat_reply("Shared: planets.\nRuled out: none.\nLABEL: **Exoplanet transits.**"
                          if "Work step by step" in prompt else self.predict_answer(prompt))


@pytest.fixture
def server(chat_server) -> Iterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    yield fake, chat_server(fake.answer)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return make_corpus()


def client(url: str, cache, **overrides) -> ChatClient:
    env = {"DISENTANGLE_LLM_BASE_URL": url, "DISENTANGLE_LLM_MODEL": "fake",
           "DISENTANGLE_LLM_BACKOFF_S": "0.01", "DISENTANGLE_LLM_CONCURRENCY": "4"}
    config = ChatConfig.load(env=env)
    for name, value in overrides.items():
        config = type(config)(**{**config.__dict__, name: value})
    return ChatClient(config, cache)


def run(corpus: Corpus, chat: ChatClient, out_dir, features=(0, 1)):
    return interpret_features(corpus.texts, corpus.codes, corpus.embeddings,
                              LLMBackend(corpus.texts, chat), BatchStore(out_dir),
                              features=list(features), config=CONFIG)


def test_prompts_show_labelling_examples_only(corpus: Corpus, server, tmp_path) -> None:
    fake, url = server
    table = run(corpus, client(url, tmp_path / "cache"), tmp_path, features=[0])
    label_prompts = [r["messages"][-1]["content"] for r in fake.requests
                     if "Work step by step" in r["messages"][-1]["content"]]
    assert len(label_prompts) == 1 and fake.requests[0]["model"] == "fake"
    from disentangle.interpret.examples import ExampleSelector

    ex = ExampleSelector(corpus.codes, corpus.embeddings,
                         np.array([len(t) for t in corpus.texts]), CONFIG.examples).select([0])[0]
    body = lambda row: " ".join(corpus.texts[row].split())[:200]  # noqa: E731
    top = ex.labelling.rows[ex.labelling.of_kind("top")][:5]
    assert all(body(r) in label_prompts[0] for r in top)
    assert not any(body(r) in label_prompts[0] for r in ex.scoring.rows)
    predict_prompts = [r["messages"][-1]["content"] for r in fake.requests][1:]
    assert all("Exoplanet transits" in p for p in predict_prompts)
    assert all(body(r) in "".join(predict_prompts) for r in ex.scoring.rows)
    row = table.to_pylist()[0]
    assert row["label"] == "Exoplanet transits"
    # A one-keyword fake predictor is noisy (≈ 0.6 here); predictions misaligned with their
    # items would correlate ≈ 0.
    assert row["prediction_failures"] == 0 and row["pearson"] > 0.4


def test_parsing_well_formed_and_malformed_answers() -> None:
    assert parse_label("reasoning\nLabel: dark matter halos\n").text == "dark matter halos"
    assert parse_label("LABEL: x\n...\n**LABEL:** \"Galaxy clusters\"").text == "Galaxy clusters"
    assert parse_label("LABEL: " + "word " * 12).text == " ".join(["word"] * 8)
    assert parse_label("I think it is about galaxies.").failed
    assert parse_label("LABEL:   ").failed
    scores = parse_scores("1: 0.5\n**2**: -2\n3. [0.25]\nfour: 1\n9: 1\n1: -1", 4)
    np.testing.assert_allclose(scores[:3], [0.5, -1.0, 0.25])
    assert np.isnan(scores[3])


def test_malformed_predictions_are_counted(corpus: Corpus, server, tmp_path) -> None:
    fake, url = server
    fake.predict_answer = lambda prompt: "1: 0.9\nI cannot judge the others."
    row = run(corpus, client(url, tmp_path / "cache"), tmp_path, features=[0]).to_pylist()[0]
    chunks = -(-row["n_scored"] // 20)
    assert row["prediction_failures"] == row["n_scored"] - chunks


def test_retries_after_errors_and_timeouts(server, tmp_path) -> None:
    fake, url = server
    fake.failures = ["500", "429", "slow"]
    chat = client(url, tmp_path, timeout_s=0.2)
    assert "1:" in chat.complete([{"role": "user", "content": "LABEL: x\n1. exoplanet"}])
    assert chat.counts["retries"] == 3 and chat.counts["calls"] == 1
    fake.failures = ["500"] * 10
    with pytest.raises(DisentangleError, match="failed 3 times"):
        client(url, tmp_path / "other", max_retries=2).complete(
            [{"role": "user", "content": "LABEL: y"}])


def test_cache_means_second_run_makes_no_calls(corpus: Corpus, server, tmp_path) -> None:
    fake, url = server
    first = run(corpus, client(url, tmp_path / "cache"), tmp_path / "a")
    calls = len(fake.requests)
    chat = client(url, tmp_path / "cache")
    second = run(corpus, chat, tmp_path / "b")
    assert len(fake.requests) == calls and chat.counts["calls"] == 0
    assert chat.counts["cache_hits"] == calls
    assert second.column("pearson").to_pylist() == first.column("pearson").to_pylist()


def test_resume_after_interruption(corpus: Corpus, server, tmp_path) -> None:
    fake, url = server
    chat = client(url, tmp_path / "cache", max_retries=0)
    per_feature = 1 + 1  # one label call and one prediction call (under 20 items)
    fake.failures = [""] * (2 * per_feature) + ["500"] * 50
    with pytest.raises(DisentangleError):
        run(corpus, chat, tmp_path, features=range(4))
    done = len(fake.requests)
    fake.failures = []
    chat = client(url, tmp_path / "cache")
    table = run(corpus, chat, tmp_path, features=range(4))
    assert table.num_rows == 4
    assert done == 2 * per_feature and chat.counts["calls"] == 2 * per_feature
    assert chat.counts["cache_hits"] == 0  # the finished batch was skipped, not replayed
    assert chat.counts["prompt_tokens"] == 100 * 2 * per_feature
