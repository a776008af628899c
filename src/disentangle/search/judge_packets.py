"""Blind judge packets for the steering benchmark, and their scorer.

A judge (a person or an LLM) reads a *packet*: for each item a search question, its top 10
titles before steering and after, and five topics in random order. The search was steered
toward one of them and away from another; the judge names both, and rates how relevant the
steered results still are to the question (0–2). Chance is 1/5 for each topic. The packet holds
no feature id, method, strength or order hint; those live in the *key*, a separate file that
records the packet's sha256, so answers are never scored against another packet's key.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from disentangle.errors import DisentangleError
from disentangle.io import read_json, write_json, write_text
from disentangle.search.evaluation import (
    GLOBAL_BLEND,
    TEMPLATES,
    TOP,
    Case,
    Rewriter,
    case_edits,
    feature_name,
)
from disentangle.search.hybrid import DEFAULT_BLEND, DEFAULT_POOL, PoolRule
from disentangle.search.searcher import Searcher

KIND = "steering-judge"
PACKET_SEED = 20261202
OPTIONS = 5
METHODS = ("hybrid", "global", "dense", "template")
"""What the packet compares (``both`` operation: more of R, less of L): the default edit, an
earlier default (feature terms over the whole corpus), the same edit moving the vector only,
and the templated rewrite; ``llm`` joins when LLM rewrites are given."""

INSTRUCTIONS = """# Steering judgement packet

Each item below shows a search question, the top {top} titles a search engine returned for it,
and the top {top} titles after the search was *steered*: asked for more of one topic and less of
another. Five topics are listed; exactly one is the topic it was steered toward and another the
topic it was steered away from. Judge from the titles only.

For each item answer one JSON line:
{{"item": N, "toward": "A".."E", "away": "A".."E", "relevance": 0|1|2}}
where relevance rates the *steered* results as answers to the question (0 = not relevant,
1 = partly, 2 = relevant). Put all answer lines in one file, in any order.
"""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_packet(searcher: Searcher, cases: Sequence[tuple[str, Case]],
                 interpretable: Collection[int], seed: int, strength: float = 1.0,
                 blend: float = DEFAULT_BLEND, pool: PoolRule = DEFAULT_POOL,
                 llm: Rewriter | None = None) -> tuple[str, dict[str, Any]]:
    """The packet text and its key for ``(set name, case)`` pairs, one item per case and
    method, shuffled with ``seed``."""
    methods = METHODS + (("llm",) if llm is not None else ())
    rng = np.random.default_rng(seed)
    topics_pool = np.asarray(sorted(interpretable), dtype=np.int64)
    if len(topics_pool) < OPTIONS + 2:
        raise DisentangleError("too few interpretable features to draw distractor topics from")
    titles = searcher.corpus.column("title")
    items = []
    for set_name, case in cases:
        x = searcher.embed(case.query)
        code = searcher.encode(x)
        before = searcher.rank(x, TOP)[1]
        taken = {case.raised, case.lowered, *code}
        distractors: list[int] = []
        for feature in rng.permutation(topics_pool).tolist():
            if feature not in taken and len(distractors) < OPTIONS - 2:
                distractors.append(int(feature))
        for method in methods:
            rows = _steered_rows(searcher, case, method, strength, blend, pool, llm, x, code)
            topics = [case.raised, case.lowered, *distractors]
            order = rng.permutation(len(topics)).tolist()
            items.append({"set": set_name, "query": case.query, "method": method,
                          "strength": strength if method not in ("template", "llm") else None,
                          "raised": case.raised, "lowered": case.lowered,
                          "topics": [topics[i] for i in order],
                          "before": titles.take(before).to_pylist(),
                          "after": titles.take(rows).to_pylist()})
    items = [items[i] for i in rng.permutation(len(items))]
    letters = string.ascii_uppercase[:OPTIONS]
    parts = [INSTRUCTIONS.format(top=TOP)]
    key_items = []
    for number, item in enumerate(items, 1):
        names = [feature_name(searcher, f) for f in item["topics"]]
        parts.append(f"\n## Item {number}\n\nQuestion: {item['query']}\n\nTopics:\n"
                     + "".join(f"- {letter}) {name}\n" for letter, name in zip(letters, names,
                                                                                strict=True))
                     + "\nBefore steering:\n"
                     + "".join(f"{i}. {t}\n" for i, t in enumerate(item["before"], 1))
                     + "\nAfter steering:\n"
                     + "".join(f"{i}. {t}\n" for i, t in enumerate(item["after"], 1)))
        key_items.append({"item": number, "set": item["set"], "query": item["query"],
                          "method": item["method"], "strength": item["strength"],
                          "raised": item["raised"], "lowered": item["lowered"],
                          "toward": letters[item["topics"].index(item["raised"])],
                          "away": letters[item["topics"].index(item["lowered"])],
                          "topics": dict(zip(letters, names, strict=True))})
    parts.append("\n## Answer lines\n\n```\n" + "".join(
        f'{{"item": {i}, "toward": "", "away": "", "relevance": null}}\n'
        for i in range(1, len(items) + 1)) + "```\n")
    packet = "".join(parts)
    key = {"kind": KIND, "seed": seed, "strength": strength, "blend": blend, "pool": pool,
           "global_blend": GLOBAL_BLEND, "chance": 1 / OPTIONS, "items": key_items}
    return packet, key


def _steered_rows(searcher: Searcher, case: Case, method: str, strength: float, blend: float,
                  pool: PoolRule, llm: Rewriter | None, x: np.ndarray,
                  code: Mapping[int, float]) -> np.ndarray:
    if method in ("template", "llm"):
        names = {"raised": feature_name(searcher, case.raised),
                 "lowered": feature_name(searcher, case.lowered)}
        text = (llm(case.query, names["raised"], names["lowered"])
                if method == "llm" and llm is not None
                else TEMPLATES["both"].format(query=case.query, **names))
        return searcher.rank(searcher.embed(text), TOP)[1]
    edits = case_edits("both", case, strength)
    _, _, steered = searcher.steer(case.query, edits)
    if method == "dense":
        return searcher.rank(steered.vector, TOP)[1]
    terms = searcher.terms(searcher.resolve(edits), code,
                           blend if method == "hybrid" else GLOBAL_BLEND)
    return searcher.rank(steered.vector, TOP, terms=terms,
                         pool=pool if method == "hybrid" else None)[1]


def write_packet(folder: Path, stem: str, packet: str, key: dict[str, Any],
                 key_folder: Path | None = None) -> tuple[Path, Path]:
    """``<stem>-packet.md`` (for the judge) and ``<stem>-key.json`` (never for the judge; in
    ``key_folder`` when given, so the judge's folder holds no key)."""
    packet_path = folder / f"{stem}-packet.md"
    key_path = (key_folder or folder) / f"{stem}-key.json"
    write_text(packet_path, packet)
    write_json(key_path, {**key, "packet_sha256": _digest(packet)})
    return packet_path, key_path


def score_answers(key_path: Path, answers_path: Path,
                  packet_path: Path | None = None) -> dict[str, dict[str, float]]:
    """Per method: how often the judge found the raised (``toward``) and lowered (``away``)
    topic, the mean relevance, and how many items were answered."""
    for path, what in ((key_path, "key"), (answers_path, "answers")):
        if not path.exists():
            raise DisentangleError(f"{what} file {path} not found")
    key = read_json(key_path)
    if not isinstance(key, dict) or key.get("kind") != KIND:
        raise DisentangleError(f"{key_path} is not a steering judge key; pass the "
                               "*-key.json written beside the packet")
    if packet_path is not None and _digest(packet_path.read_text("utf-8")) != key["packet_sha256"]:
        raise DisentangleError(f"{packet_path} is not the packet this key belongs to")
    answers: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(answers_path.read_text("utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "`")):
            continue
        try:
            answer = json.loads(line)
            answers[int(answer["item"])] = answer
        except (ValueError, KeyError, TypeError):
            raise DisentangleError(f"{answers_path}:{number} is not an answer line like "
                                   '{"item": 1, "toward": "A", "away": "B", "relevance": 2}'
                                   ) from None
    scores: dict[str, dict[str, float]] = {}
    for method in dict.fromkeys(item["method"] for item in key["items"]):
        chosen = [i for i in key["items"] if i["method"] == method and i["item"] in answers]
        given = [answers[i["item"]] for i in chosen]
        relevance = [float(a["relevance"]) for a in given
                     if isinstance(a.get("relevance"), int | float)]
        scores[method] = {
            "answered": len(chosen),
            "toward": float(np.mean([str(a.get("toward", "")).strip().upper() == i["toward"]
                                     for a, i in zip(given, chosen, strict=True)]))
            if chosen else float("nan"),
            "away": float(np.mean([str(a.get("away", "")).strip().upper() == i["away"]
                                   for a, i in zip(given, chosen, strict=True)]))
            if chosen else float("nan"),
            "relevance": float(np.mean(relevance)) if relevance else float("nan")}
    return scores

