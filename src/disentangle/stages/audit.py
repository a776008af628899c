"""Blind audits of a workspace's labels and families: write packets and keys, let a judge
(person or LLM) answer, score the answers (``disentangle eval labels|families``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from disentangle.families import audit as family_audit
from disentangle.interpret import ChatClient, ChatConfig
from disentangle.interpret import audit as label_audit
from disentangle.io import write_text
from disentangle.judging import (
    Judge,
    Tally,
    digest,
    parse_sample,
    read_answers,
    read_key,
    write_packet,
)
from disentangle.stages.families import label_list
from disentangle.stages.families import load as load_families
from disentangle.stages.readers import codes as stored_codes
from disentangle.workspace import Workspace

DEFAULT_SAMPLE = "clean:30,band:30"
DEFAULT_FAMILIES = 10


@dataclass
class AuditFiles:
    """What an audit wrote: packet, key, and the judge's answers when a judge ran."""

    packet: Path
    key: Path
    answers: Path | None = None


def write_label_audit(workspace: Workspace, name: str | None = None, *,
                      sample: str = DEFAULT_SAMPLE, seed: int = 0, out: Path | None = None,
                      judge: Judge | None = None) -> AuditFiles:
    """Label packet and key for a sample of features; answers too when ``judge`` is given."""
    groups = parse_sample(sample, label_audit.GROUPS)
    name = workspace.resolve_sae(name)
    folder = workspace.sae_folder(name)
    table = folder.features()
    corpus = workspace.corpus()
    titles = corpus.column("title").to_pylist()
    items = label_audit.build_items(table, stored_codes(workspace, name), titles, groups, seed)
    out = out or folder.audit_dir
    packet, key = write_packet(out, label_audit.PACKET_STEM,
                               label_audit.packet_text(items, corpus.num_rows),
                               label_audit.key_record(items, _meta(workspace, name, seed,
                                                                   sample)))
    files = AuditFiles(packet, key)
    if judge is not None:
        files.answers = _write_answers(
            out, label_audit.PACKET_STEM,
            label_audit.judge_items(items, judge, corpus.num_rows))
    return files


def write_family_audit(workspace: Workspace, name: str | None = None, *,
                       count: int = DEFAULT_FAMILIES, seed: int = 0, out: Path | None = None,
                       judge: Judge | None = None) -> AuditFiles:
    """Family packet and key for ``count`` random families; answers when ``judge`` is given."""
    name, table = load_families(workspace, name)
    n_features = stored_codes(workspace, name).n_features
    labels = label_list(workspace, name, n_features) or [f"#{i}" for i in range(n_features)]
    items = family_audit.build_items(table, labels, count, seed)
    out = out or workspace.sae_folder(name).audit_dir
    packet, key = write_packet(out, family_audit.PACKET_STEM, family_audit.packet_text(items),
                               family_audit.key_record(items, _meta(workspace, name, seed,
                                                                    f"families:{count}")))
    files = AuditFiles(packet, key)
    if judge is not None:
        files.answers = _write_answers(out, family_audit.PACKET_STEM,
                                       family_audit.judge_items(items, judge))
    return files


def llm_judge(workspace: Workspace, llm_config: Path | None) -> Judge:
    """The OpenAI-compatible chat client (settings as for ``interpret --backend llm``)."""
    client = ChatClient(ChatConfig.load(llm_config), cache_dir=workspace.cache_root / "llm")
    return lambda prompt: client.complete([{"role": "user", "content": prompt}])


def score_answers(answers: Path, key: Path | None, kind: str) -> tuple[dict[str, Tally], str]:
    """Tallies and a printable table for a judge's answers against the key (by default the
    ``<kind>-key.json`` beside the answers)."""
    key_path = key or answers.parent / f"{kind}-key.json"
    record = read_key(key_path, kind)
    packet = key_path.parent / f"{kind}-packet.md"
    note = ""
    if packet.exists() and digest(packet.read_text(encoding="utf-8")) != record["packet_sha256"]:
        note = f"\nwarning: {packet} is not the packet this key was written with"
    module = label_audit if kind == label_audit.PACKET_STEM else family_audit
    tallies = module.score(record, read_answers(answers))
    return tallies, module.format_score(tallies) + note


def _write_answers(out: Path, stem: str, answers: list[dict[str, Any]]) -> Path:
    path = out / f"{stem}-answers-llm.jsonl"
    write_text(path, "".join(json.dumps(a) + "\n" for a in answers))
    return path


def _meta(workspace: Workspace, name: str, seed: int, sample: str) -> dict[str, Any]:
    return {"workspace": str(workspace.root), "sae": name, "seed": seed, "sample": sample}
