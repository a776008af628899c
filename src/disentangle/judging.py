"""Blind judging, shared by the label audit and the family audit.

A judge (a person, or an LLM) reads a *packet*: instructions, then numbered items, then an
answer template of JSON lines. Everything that would let a judge cheat (feature ids, scores,
which titles are the feature's, which group an item was drawn from) lives only in the *key*,
a separate file. The key records the packet's sha256, so answers are never scored against the
key of another packet. These helpers know nothing about features or families: they parse
sample specifications, read answers, and tally verdicts per group.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from disentangle.errors import DisentangleError
from disentangle.io import read_json, write_json, write_text

Judge = Callable[[str], str]
"""Prompt in, answer text out (an LLM client, or a test double)."""

_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)


def parse_sample(text: str, groups: Sequence[str]) -> list[tuple[str, int]]:
    """``"clean:30,band:30"`` → ``[("clean", 30), ("band", 30)]``; a clear error otherwise."""
    sample = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, count = part.partition(":")
        if name not in groups or not count.isascii() or not count.isdigit() or int(count) < 1:
            raise DisentangleError(f"sample {part!r} is not understood; write GROUP:COUNT with "
                                   f"GROUP one of {', '.join(groups)}, e.g. clean:30,band:30")
        sample.append((name, int(count)))
    if not sample:
        raise DisentangleError("empty sample; write e.g. clean:30,band:30")
    return sample


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_packet(out_dir: Path, stem: str, packet: str, key: dict[str, Any]) -> tuple[Path, Path]:
    """``<stem>-packet.md`` (for the judge) and ``<stem>-key.json`` (never for the judge)."""
    packet_path, key_path = out_dir / f"{stem}-packet.md", out_dir / f"{stem}-key.json"
    write_text(packet_path, packet)
    write_json(key_path, {**key, "packet_sha256": digest(packet)})
    return packet_path, key_path


def read_key(path: Path, kind: str) -> dict[str, Any]:
    if not path.exists():
        raise DisentangleError(f"answer key {path} not found; pass --key with the *-key.json "
                               "written beside the packet")
    try:
        key = read_json(path)
    except (ValueError, UnicodeDecodeError):
        raise DisentangleError(f"{path} is not an answer key (not JSON); pass the *-key.json "
                               "written beside the packet") from None
    if not isinstance(key, dict) or key.get("kind") != kind:
        raise DisentangleError(f"{path} is not a {kind} answer key; pass the {kind}-key.json "
                               "written with the packet")
    return key


def read_answers(path: Path) -> dict[int, dict[str, Any]]:
    """A judge's JSON lines by item number (blank lines and ``#`` comments are skipped)."""
    if not path.exists():
        raise DisentangleError(f"answers file {path} not found; write one JSON line per item "
                               "as in the packet's answer template")
    answers: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            answer = json.loads(line)
            item = int(answer["item"])
        except (ValueError, KeyError, TypeError):
            raise DisentangleError(f"{path}, line {number}: not an answer line; write e.g. "
                                   '{"item": 1, "picked": ["A","C","D","F","J"], '
                                   '"verdict": "accept"}') from None
        answers[item] = answer
    return answers


def ask(prompts: Sequence[tuple[int, str]], judge: Judge,
        concurrency: int = 4) -> list[dict[str, Any]]:
    """Each ``(item, prompt)`` put to ``judge``; its answer parsed as a JSON line. Unparseable
    answers become ``{"item": n, "unparsed": "..."}`` and count as unanswered."""
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        answers = list(pool.map(judge, [prompt for _, prompt in prompts]))
    return [{**(parse_judge_answer(answer) or {"unparsed": answer[-300:]}), "item": item}
            for (item, _), answer in zip(prompts, answers, strict=True)]


def parse_judge_answer(text: str) -> dict[str, Any] | None:
    """The last JSON object in an LLM's answer, or None when there is none."""
    for candidate in reversed(_JSON_OBJECT.findall(text)):
        try:
            found = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return None


@dataclass
class Tally:
    """Verdict counts and extra per-item numbers of one group."""

    items: int = 0
    answered: int = 0
    verdicts: dict[str, int] | None = None
    numbers: dict[str, list[float]] | None = None

    def add(self, verdict: str | None, **numbers: float) -> None:
        self.items += 1
        if verdict is None:
            return
        self.answered += 1
        self.verdicts = self.verdicts or {}
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
        self.numbers = self.numbers or {}
        for name, value in numbers.items():
            self.numbers.setdefault(name, []).append(value)

    def rate(self, verdict: str) -> float:
        return (self.verdicts or {}).get(verdict, 0) / self.answered if self.answered else 0.0

    def mean(self, name: str) -> float:
        values = (self.numbers or {}).get(name, [])
        return sum(values) / len(values) if values else float("nan")


def verdict_of(answer: Mapping[str, Any] | None, allowed: Sequence[str]) -> str | None:
    """The answer's verdict, lower-cased, or None when missing or not one of ``allowed``."""
    if not answer:
        return None
    verdict = str(answer.get("verdict", "")).strip().lower()
    return verdict if verdict in allowed else None
