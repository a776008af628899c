"""The LLM back end: the paper's labelling protocol and held-out prediction, over any
OpenAI-compatible endpoint.

Labelling shows the strongest activating labelling documents (with activations) and silent
ones (random and hard negatives, interleaved), asks for step-by-step reasoning and a final
``LABEL: ...`` line. Prediction shows only the label and the feature's scoring documents,
shuffled and numbered, and asks for ``<number>: <confidence in [-1, 1]>`` lines. Answers that
cannot be parsed are counted (``Label.failed``, ``Prediction.failures``), never hidden.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any

import numpy as np

from disentangle.interpret.backend import Label
from disentangle.interpret.chat import ChatClient
from disentangle.interpret.examples import ExampleSet, FeatureExamples
from disentangle.interpret.scoring import Prediction

MAX_LABEL_WORDS = 8

_LABEL_LINE = re.compile(r"^[\s*#>_`]*label[\s*_`]*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_SCORE_LINE = re.compile(r"^[\s*#>`-]*\(?(\d+)\)?[.:)\]]?[\s*`]*:?\s*\[?([-+]?\d*\.?\d+)",
                         re.MULTILINE)


@dataclass(frozen=True)
class PromptConfig:
    active_examples: int = 5
    """Top activating labelling documents shown (the paper: 5)."""
    silent_examples: int = 5
    """Silent labelling documents shown (the paper: 5)."""
    items_per_call: int = 20
    """Scoring documents per prediction request."""
    max_chars: int = 1500
    """Texts are cut to this many characters in prompts."""
    seed: int = 0


@cache
def template(name: str) -> Template:
    text = resources.files(__package__).joinpath("prompts", f"{name}.txt").read_text("utf-8")
    return Template(text)


class LLMBackend:
    name = "llm"

    def __init__(
        self, texts: Sequence[str], client: ChatClient, config: PromptConfig | None = None
    ) -> None:
        self.texts = texts
        self.client = client
        self.config = config or PromptConfig()

    def spec(self) -> dict[str, Any]:
        prompts = "".join(template(n).template for n in ("system", "label", "predict"))
        return {"model": self.client.config.model,
                "temperature": self.client.config.temperature,
                "prompts": hashlib.sha256(prompts.encode()).hexdigest()[:12],
                **asdict(self.config)}

    def label(self, batch: Sequence[FeatureExamples]) -> list[Label]:
        with ThreadPoolExecutor(self.client.config.concurrency) as pool:
            answers = list(pool.map(self._ask, [self.label_prompt(ex) for ex in batch]))
        return [parse_label(answer) for answer in answers]

    def predict(
        self, batch: Sequence[FeatureExamples], labels: Sequence[Label]
    ) -> list[Prediction]:
        requests: list[tuple[int, np.ndarray, str]] = []
        for position, (ex, label) in enumerate(zip(batch, labels, strict=True)):
            if not label.text:
                continue
            order = np.random.default_rng([self.config.seed, ex.feature]).permutation(
                len(ex.scoring.rows))
            for start in range(0, len(order), self.config.items_per_call):
                chunk = order[start:start + self.config.items_per_call]
                requests.append((position, chunk, self.predict_prompt(label.text, ex, chunk)))
        with ThreadPoolExecutor(self.client.config.concurrency) as pool:
            answers = list(pool.map(self._ask, [prompt for _, _, prompt in requests]))
        scores = [np.zeros(len(ex.scoring.rows), np.float32) for ex in batch]
        failures = [0 if label.text else len(ex.scoring.rows)
                    for ex, label in zip(batch, labels, strict=True)]
        for (position, chunk, _), answer in zip(requests, answers, strict=True):
            parsed = parse_scores(answer, len(chunk))
            failures[position] += int(np.isnan(parsed).sum())
            scores[position][chunk] = np.nan_to_num(parsed, nan=0.0)
        return [Prediction(s, 0.0, f) for s, f in zip(scores, failures, strict=True)]

    def label_prompt(self, ex: FeatureExamples) -> str:
        items = ex.labelling
        active = np.flatnonzero(items.of_kind("top"))
        active = active[np.argsort(-items.activations[active], kind="stable")]
        active = active[:self.config.active_examples]
        random = np.flatnonzero(items.of_kind("random"))
        hard = np.flatnonzero(items.of_kind("hard"))
        silent = [i for pair in zip(hard, random, strict=False) for i in pair]
        silent += [i for i in (*hard, *random) if i not in silent]
        silent = silent[:self.config.silent_examples]
        return template("label").substitute(
            active="\n\n".join(f"{n}. [{items.activations[i]:.2f}] {self._text(items, i)}"
                               for n, i in enumerate(active, 1)),
            silent="\n\n".join(f"{n}. {self._text(items, i)}" for n, i in enumerate(silent, 1)),
        )

    def predict_prompt(self, label: str, ex: FeatureExamples, chunk: np.ndarray) -> str:
        return template("predict").substitute(
            label=label,
            items="\n\n".join(f"{n}. {self._text(ex.scoring, i)}"
                              for n, i in enumerate(chunk, 1)),
        )

    def _text(self, items: ExampleSet, position: int) -> str:
        text = " ".join(self.texts[int(items.rows[position])].split())
        return text[:self.config.max_chars]

    def _ask(self, prompt: str) -> str:
        return self.client.complete([
            {"role": "system", "content": template("system").template.strip()},
            {"role": "user", "content": prompt},
        ])


def parse_label(answer: str) -> Label:
    """The last ``LABEL:`` line, cleaned and cut to 8 words; ``failed`` if there is none."""
    found = _LABEL_LINE.findall(answer)
    if not found:
        return Label("", answer.strip()[-500:], failed=True)
    label = found[-1].strip(" \t*_`\"'.")
    words = label.split()
    if not words:
        return Label("", answer.strip()[-500:], failed=True)
    return Label(" ".join(words[:MAX_LABEL_WORDS]), answer.strip())


def parse_scores(answer: str, count: int) -> np.ndarray:
    """Confidences for items ``1..count``, clipped to [-1, 1]; nan where none was given."""
    scores = np.full(count, np.nan, np.float32)
    for number, value in _SCORE_LINE.findall(answer):
        position = int(number) - 1
        if 0 <= position < count and np.isnan(scores[position]):
            scores[position] = np.clip(float(value), -1.0, 1.0)
    return scores
