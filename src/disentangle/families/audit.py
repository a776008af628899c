"""The family audit: does a family read as one topic with its sub-topics under it?

For each sampled family the packet shows the root feature's label and its members' labels
(the first ``MAX_MEMBERS`` as the family lists them, as ``families show`` does: best-nested
first when built with the workspace's rules), members in random order.
The judge marks the members that do not belong under the root and gives a verdict:
coherent, mixed or incoherent. Scores: verdict rates and the mean share of members that
belong. Ids and sizes stay in the key (:mod:`disentangle.judging`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from disentangle.errors import DisentangleError
from disentangle.families.extract import MAX_MEMBERS
from disentangle.judging import Judge, Tally, ask, verdict_of

PACKET_STEM = "families"
"""Files: ``families-packet.md`` for the judge, ``families-key.json`` for the scorer."""
VERDICTS = ("coherent", "mixed", "incoherent")

INSTRUCTIONS = """\
# Judging feature families (blind)

A program found "features" in scientific abstracts (arXiv: astrophysics, machine learning,
statistics): detectors, each firing on some papers and named by a short label. It then
grouped features into families: a ROOT feature and MEMBER features that mostly fire on
papers the root also fires on. A good family reads like a topic and its sub-topics, e.g.
root "exoplanets" with members "transit photometry", "radial velocity", "hot jupiters".

Each numbered item below shows one family: the root's label and its members' labels,
numbered, in random order. A label "mixed: a, b, c" belongs to a feature whose papers share
no single topic.

For every item:

1. **outside**: the numbers of the members that do NOT belong under the root (not a kind,
   part, method or aspect of the root's topic; attached only through a shared word; or
   broader than the root). An empty list if all belong.
2. **verdict**:
   - `coherent`: the root names a topic at least as broad as its members, and nearly all
     members (all but at most one in ten) belong under it;
   - `mixed`: a recognisable core, but several members do not belong or the root is
     narrower than some members;
   - `incoherent`: no common topic.

Answer with one JSON line per item, exactly in the form of the template at the end (copy the
template and fill it in; nothing else on the line).
"""

ANSWER_FORMAT = '{"item": N, "outside": [], "verdict": "coherent | mixed | incoherent"}'


@dataclass(frozen=True)
class FamilyItem:
    item: int
    family: int
    root: int
    root_label: str
    members: list[int]
    """Member feature ids, in the order shown (1, 2, …)."""
    member_labels: list[str]

    def text(self) -> str:
        lines = [f"## Item {self.item}", "", f"ROOT: {self.root_label}", "", "MEMBERS:"]
        lines += [f"{n}. {label}" for n, label in enumerate(self.member_labels, 1)]
        return "\n".join(lines)


def build_items(families: pa.Table, labels: Sequence[str], count: int,
                seed: int) -> list[FamilyItem]:
    """``count`` families drawn at random (items in random order), members shuffled."""
    if families.num_rows < count:
        raise DisentangleError(f"only {families.num_rows} families exist, {count} asked; "
                               "sample fewer")
    rng = np.random.default_rng(seed)
    rows = families.to_pylist()
    picked = rng.choice(len(rows), count, replace=False)
    items = []
    for number, index in enumerate(picked, 1):
        row = rows[int(index)]
        members = [int(c) for c in rng.permutation(list(row["children"])[:MAX_MEMBERS])]
        items.append(FamilyItem(number, int(row["family"]), int(row["parent"]),
                                labels[row["parent"]], members, [labels[m] for m in members]))
    return items


def packet_text(items: Sequence[FamilyItem]) -> str:
    blocks = [INSTRUCTIONS, *(item.text() for item in items)]
    template = "\n".join(ANSWER_FORMAT.replace("N", str(item.item)) for item in items)
    blocks.append("## Answer template\n\n```\n" + template + "\n```")
    return "\n\n".join(blocks) + "\n"


def key_record(items: Sequence[FamilyItem], meta: dict[str, Any]) -> dict[str, Any]:
    return {"kind": PACKET_STEM, **meta,
            "items": [{"item": i.item, "family": i.family, "root": i.root,
                       "root_label": i.root_label, "members": i.members,
                       "member_labels": i.member_labels} for i in items]}


def judge_items(items: Sequence[FamilyItem], judge: Judge,
                concurrency: int = 4) -> list[dict[str, Any]]:
    """Ask ``judge`` about each family with the packet's instructions (see the label audit)."""
    return ask([(item.item, f"{INSTRUCTIONS}\n\n{item.text()}\n\nAnswer with exactly one JSON "
                 f"line of the form\n{ANSWER_FORMAT.replace('N', str(item.item))}")
                for item in items], judge, concurrency)


def score(key: dict[str, Any], answers: dict[int, dict[str, Any]]) -> dict[str, Tally]:
    """Verdict rates and the mean share of shown members that belong under their root."""
    tally = Tally()
    for entry in key["items"]:
        answer = answers.get(int(entry["item"]))
        verdict = verdict_of(answer, VERDICTS)
        shown = len(entry["members"])
        outside = {int(n) for n in (answer or {}).get("outside", []) or []
                   if str(n).strip().isascii() and str(n).strip().isdigit()
                   and 1 <= int(n) <= shown}
        tally.add(verdict, belonging=1 - len(outside) / shown if shown else 1.0)
    return {"families": tally}


def format_score(tallies: dict[str, Tally]) -> str:
    lines = [f"{'group':<10} {'items':>5} {'answered':>8} {'coherent':>8} {'mixed':>6} "
             f"{'incoherent':>10} {'members belonging':>17}"]
    for group, tally in tallies.items():
        lines.append(f"{group:<10} {tally.items:>5} {tally.answered:>8} "
                     f"{tally.rate('coherent'):>8.0%} {tally.rate('mixed'):>6.0%} "
                     f"{tally.rate('incoherent'):>10.0%} {tally.mean('belonging'):>17.0%}")
    return "\n".join(lines)
