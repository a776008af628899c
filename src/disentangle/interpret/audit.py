"""The label audit: can a blind reader tell a feature's papers from random ones by its label,
and does the label name what they share?

For each sampled feature the packet shows its display label and 10 titles in random order:
the feature's 5 strongest abstracts and 5 random abstracts where it is silent. The judge picks
the 5 the label describes and accepts, partly accepts or rejects the label. *Detection
precision* is the share of picked titles that really are the feature's; the verdicts give
accept / partial / reject rates. Both are reported per sample group (``clean`` features,
``band``: the typical feature, density 0.1–5 %, or ``all`` live features). The packet holds
no feature id, score, group or order hint; those are in the key (:mod:`disentangle.judging`).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.codes import SparseCodes
from disentangle.errors import DisentangleError
from disentangle.judging import Judge, Tally, ask, verdict_of

PACKET_STEM = "labels"
"""Files: ``labels-packet.md`` for the judge, ``labels-key.json`` for the scorer."""
VERDICTS = ("accept", "partial", "reject")
SHOWN = 5
"""Titles of each kind per item: the feature's strongest, and random silent ones."""
LETTERS = string.ascii_uppercase[:2 * SHOWN]
BAND = (0.001, 0.05)
"""The typical feature's density range (0.1–5 % of documents)."""
GROUPS = ("clean", "band", "all")
ALL_JUDGED = "all judged"
"""The row of the score table that pools every group."""

INSTRUCTIONS = """\
# Judging feature labels (blind)

A program read {documents} scientific abstracts (arXiv: astrophysics, machine learning,
statistics) and found "features": detectors, each of which fires on some of the papers. It
named every feature with a short label. You judge whether those labels are right.

Each numbered item below shows one feature's LABEL and ten paper titles, lettered A to J.
Five of the titles are the papers on which that feature fires most strongly; the other five
are random papers on which it does not fire at all. They are mixed in random order.

For every item:

1. **picked**: the letters of the 5 titles the label describes (the ones you believe the
   feature fires on). Always pick exactly 5, guessing if you must.
2. **verdict**, judging the label as a name for what its five papers have in common:
   - `accept`: a scientist would agree it names the shared topic, at about the right breadth;
   - `partial`: related, but too broad, too narrow, naming only part of the topic, or only
     an instrument, method or word that merely occurs in them;
   - `reject`: wrong, unrelated, a meaningless word fragment, or a generic word.

   A label of the form "mixed: a, b, c" claims that the feature's papers share no single
   topic (the words after the colon are frequent in them). Accept it if you find the five
   papers indeed have no common topic; reject it if they clearly share one.

Answer with one JSON line per item, exactly in the form of the template at the end (copy the
template and fill it in; letters in any order; nothing else on the line). Judge each item on
its own; there is nothing to learn from the item numbers.
"""

ANSWER_FORMAT = ('{"item": N, "picked": ["?", "?", "?", "?", "?"], '
                 '"verdict": "accept | partial | reject"}')


@dataclass(frozen=True)
class AuditItem:
    """One feature as the judge sees it, and what only the key knows."""

    item: int
    feature: int
    group: str
    label: str
    titles: list[str]
    """Ten titles, in the order shown (A–J)."""
    active: list[str]
    """Letters of the feature's strongest documents."""

    def text(self) -> str:
        lines = [f"## Item {self.item}", "", f"LABEL: {self.label}", ""]
        lines += [f"{letter}. {title}" for letter, title in zip(LETTERS, self.titles,
                                                                strict=True)]
        return "\n".join(lines)


def group_mask(table: pa.Table, group: str) -> np.ndarray:
    """Features of ``table`` that belong to a sample group (dead features never do)."""
    density = table.column("density").to_numpy(zero_copy_only=False)
    live = density > 0
    if group == "clean":
        return live & table.column("clean").to_numpy(zero_copy_only=False).astype(bool)
    if group == "band":
        return live & (density >= BAND[0]) & (density <= BAND[1])
    if group == "all":
        return live
    raise DisentangleError(f"unknown sample group {group!r}; use one of {', '.join(GROUPS)}")


def sample_features(table: pa.Table, sample: Sequence[tuple[str, int]],
                    seed: int) -> list[tuple[int, str]]:
    """``(feature, group)`` pairs: per group, ``count`` features drawn without replacement,
    never a feature twice across groups (earlier groups draw first)."""
    rng = np.random.default_rng(seed)
    features = table.column("feature").to_numpy()
    taken = np.zeros(len(features), bool)
    chosen: list[tuple[int, str]] = []
    for group, count in sample:
        pool = np.flatnonzero(group_mask(table, group) & ~taken)
        if len(pool) < count:
            raise DisentangleError(f"only {len(pool)} features left in group {group!r}, "
                                   f"{count} asked; sample fewer")
        picked = np.sort(rng.choice(pool, count, replace=False))
        taken[picked] = True
        chosen += [(int(features[p]), group) for p in picked]
    return chosen


def build_items(
    table: pa.Table,
    codes: SparseCodes,
    titles: Sequence[str],
    sample: Sequence[tuple[str, int]],
    seed: int,
) -> list[AuditItem]:
    """The audit items for a sample, in a shuffled order that hides groups and ids."""
    chosen = sample_features(table, sample, seed)
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(len(chosen))
    matrix = codes.to_csr().tocsc()
    rows_of = {int(f): position for position, f in enumerate(table.column("feature").to_pylist())}
    labels = table.column("label").to_pylist()
    items = []
    for number, index in enumerate(order, 1):
        feature, group = chosen[index]
        position = rows_of[feature]
        span = slice(matrix.indptr[feature], matrix.indptr[feature + 1])
        active_rows, values = matrix.indices[span], matrix.data[span]
        by_strength = active_rows[np.lexsort((active_rows, -values))]
        strongest = _distinct_titles(by_strength, titles, set())
        silent = _silent_rows(rng, len(titles), active_rows, 4 * SHOWN)
        shown = {titles[r].strip().lower() for r in strongest}
        silent = _distinct_titles(silent, titles, shown)
        if len(strongest) < SHOWN or len(silent) < SHOWN:
            raise DisentangleError(f"feature {feature} has too few distinct titles to audit; "
                                   "sample another group or seed")
        rows = np.array(strongest + silent)
        shuffle = rng.permutation(len(rows))
        items.append(AuditItem(
            item=number, feature=feature, group=group, label=labels[position] or "(no label)",
            titles=[_title(titles[r]) for r in rows[shuffle]],
            active=sorted(LETTERS[i] for i, s in enumerate(shuffle) if s < SHOWN)))
    return items


def packet_text(items: Sequence[AuditItem], documents: int) -> str:
    blocks = [INSTRUCTIONS.format(documents=f"{documents:,}")]
    blocks += [item.text() for item in items]
    template = "\n".join(ANSWER_FORMAT.replace("N", str(item.item)) for item in items)
    blocks.append("## Answer template\n\n```\n" + template + "\n```")
    return "\n\n".join(blocks) + "\n"


def key_record(items: Sequence[AuditItem], meta: dict[str, Any]) -> dict[str, Any]:
    return {"kind": PACKET_STEM, **meta,
            "items": [{"item": i.item, "feature": i.feature, "group": i.group, "label": i.label,
                       "active": i.active} for i in items]}


def judge_items(items: Sequence[AuditItem], judge: Judge, documents: int,
                concurrency: int = 4) -> list[dict[str, Any]]:
    """Ask ``judge`` (e.g. an LLM) about each item, with the packet's own instructions."""
    head = INSTRUCTIONS.format(documents=f"{documents:,}")
    return ask([(item.item, f"{head}\n\n{item.text()}\n\nAnswer with exactly one JSON line of "
                 f"the form\n{ANSWER_FORMAT.replace('N', str(item.item))}") for item in items],
               judge, concurrency)


def score(key: dict[str, Any], answers: dict[int, dict[str, Any]]) -> dict[str, Tally]:
    """Per group (and ``all judged``): verdict rates and detection precision."""
    tallies: dict[str, Tally] = {}
    for entry in key["items"]:
        answer = answers.get(int(entry["item"]))
        verdict = verdict_of(answer, VERDICTS)
        picked = {str(p).strip().upper() for p in (answer or {}).get("picked", []) or []}
        picked &= set(LETTERS)
        numbers = {"precision": len(picked & set(entry["active"])) / len(picked)} if picked \
            else {}
        for group in (entry["group"], ALL_JUDGED):
            tallies.setdefault(group, Tally()).add(verdict, **numbers)
    return tallies


def format_score(tallies: dict[str, Tally]) -> str:
    lines = [f"{'group':<12} {'items':>5} {'answered':>8} {'detection precision':>19} "
             f"{'accepted':>8} {'partial':>7} {'rejected':>8}"]
    for group, tally in sorted(tallies.items(), key=lambda item: item[0] == ALL_JUDGED):
        lines.append(f"{group:<12} {tally.items:>5} {tally.answered:>8} "
                     f"{tally.mean('precision'):>19.2f} {tally.rate('accept'):>8.0%} "
                     f"{tally.rate('partial'):>7.0%} {tally.rate('reject'):>8.0%}")
    return "\n".join(lines)


def _silent_rows(rng: np.random.Generator, documents: int, active: np.ndarray,
                 count: int) -> list[int]:
    candidates = rng.choice(documents, size=min(documents, count + len(active) + 64),
                            replace=False)
    return [int(r) for r in candidates[~np.isin(candidates, active)][:count]]


def _distinct_titles(rows: Sequence[int], titles: Sequence[str], seen: set[str]) -> list[int]:
    """The first ``SHOWN`` of ``rows`` whose (case-folded) titles are non-empty and unseen."""
    kept: list[int] = []
    for row in rows:
        title = titles[int(row)].strip().lower()
        if title and title not in seen:
            seen.add(title)
            kept.append(int(row))
            if len(kept) == SHOWN:
                break
    return kept


def _title(text: str) -> str:
    return " ".join(text.split())
