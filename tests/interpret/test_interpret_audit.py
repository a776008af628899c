"""The blind label audit: packets that leak nothing, keys, scoring, and an LLM judge."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest
from fake_chat import chat_reply
from planted_corpus import PLANTED, Corpus, make_corpus

from disentangle.errors import DisentangleError
from disentangle.interpret import (
    ChatClient,
    ChatConfig,
    ExampleConfig,
    InterpretConfig,
    OfflineBackend,
    audit,
    interpret_features,
)
from disentangle.judging import digest, parse_sample, read_answers, read_key, write_packet
from disentangle.workspace import BatchStore

CONFIG = InterpretConfig(examples=ExampleConfig(min_label_chars=100), batch_size=8)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> tuple[Corpus, pa.Table, list[str]]:
    corpus = make_corpus()
    backend = OfflineBackend(corpus.texts, corpus.embeddings, corpus.embedder)
    table = interpret_features(corpus.texts, corpus.codes, corpus.embeddings, backend,
                               BatchStore(tmp_path_factory.mktemp("audit")), config=CONFIG)
    titles = [" ".join(text.split()[2:10]) for text in corpus.texts]  # drop "Title N"
    return corpus, table, titles


def test_packet_shows_labels_and_titles_and_hides_everything_else(labelled) -> None:
    corpus, table, titles = labelled
    items = audit.build_items(table, corpus.codes, titles, [("all", 6)], seed=3)
    packet = audit.packet_text(items, len(titles))
    key = audit.key_record(items, {"seed": 3})
    assert sorted(i.item for i in items) == list(range(1, 7))
    assert len({i.feature for i in items}) == 6
    for item in items:
        assert len(item.titles) == 10 and len(set(item.titles)) == 10 and len(item.active) == 5
        rows, _ = _active(corpus, item.feature)
        for letter, title in zip(audit.LETTERS, item.titles, strict=True):
            fires = any(titles[r] == title for r in rows)
            assert fires == (letter in item.active), (item.feature, letter)
        assert f"LABEL: {item.label}" in packet
    shown = packet[packet.index("## Item 1"):].lower()
    for secret in ("feature", "pearson", "density", "clean", "band", "group", "activation"):
        assert secret not in shown
    assert not re.search(r"#\d", packet)
    assert packet.count('{"item": ') == 6 and "pick exactly 5" in " ".join(packet.split())
    assert json.dumps(key)  # the key is plain JSON, with what the packet hides
    assert {e["group"] for e in key["items"]} == {"all"}
    again = audit.build_items(table, corpus.codes, titles, [("all", 6)], seed=3)
    assert [i.titles for i in again] == [i.titles for i in items]


def test_groups_are_drawn_without_overlap_and_a_short_group_is_an_error(labelled) -> None:
    table = labelled[1]
    chosen = audit.sample_features(table, [("all", 3), ("all", 4)], seed=0)
    assert len({f for f, _ in chosen}) == 7
    with pytest.raises(DisentangleError, match=r"only .* features left in group 'all'"):
        audit.sample_features(table, [("all", 999)], seed=0)
    with pytest.raises(DisentangleError, match="GROUP:COUNT"):
        parse_sample("clean=30", audit.GROUPS)
    assert parse_sample("clean:30, band:2", audit.GROUPS) == [("clean", 30), ("band", 2)]


def test_scores_detection_precision_and_verdicts_per_group(tmp_path) -> None:
    key = {"kind": "labels", "items": [
        {"item": 1, "group": "clean", "active": ["A", "B", "C", "D", "E"]},
        {"item": 2, "group": "clean", "active": ["F", "G", "H", "I", "J"]},
        {"item": 3, "group": "band", "active": ["A", "C", "E", "G", "I"]},
        {"item": 4, "group": "band", "active": ["A", "C", "E", "G", "I"]}]}
    answers = tmp_path / "answers.jsonl"
    answers.write_text("\n".join([
        '{"item": 1, "picked": ["A","B","C","D","E"], "verdict": "accept"}',
        '{"item": 2, "picked": ["a","b","H","I","J"], "verdict": "Partial"}',
        "# a comment line",
        '{"item": 3, "picked": ["B","D","F","H","J"], "verdict": "reject"}',
        '{"item": 4, "picked": [], "verdict": "maybe"}']) + "\n")
    tallies = audit.score(key, read_answers(answers))
    assert tallies["clean"].mean("precision") == pytest.approx(0.8)
    assert tallies["clean"].rate("accept") == 0.5 and tallies["clean"].rate("partial") == 0.5
    assert tallies["band"].answered == 1 and tallies["band"].rate("reject") == 1.0
    assert tallies["band"].mean("precision") == 0.0
    assert tallies["all judged"].items == 4
    table = audit.format_score(tallies)
    assert re.search(r"clean\s+2\s+2\s+0\.80\s+50%\s+50%\s+0%", table), table
    answers.write_text('{"picked": ["A"]}\n')
    with pytest.raises(DisentangleError, match="line 1: not an answer line"):
        read_answers(answers)


def test_key_files_carry_the_packet_digest(tmp_path) -> None:
    packet, key = write_packet(tmp_path, "labels", "the packet\n", {"kind": "labels",
                                                                    "items": []})
    assert packet.name == "labels-packet.md" and key.name == "labels-key.json"
    assert read_key(key, "labels")["packet_sha256"] == digest("the packet\n")
    with pytest.raises(DisentangleError, match="not a families answer key"):
        read_key(key, "families")


def test_an_llm_judges_the_packet_through_the_chat_client(labelled, chat_server,
                                                          tmp_path) -> None:
    corpus, table, titles = labelled
    four = table.filter(pa.compute.less(table["feature"], 4))
    items = audit.build_items(four, corpus.codes, titles, [("all", 4)], seed=1)
    planted = next(i for i in items if i.feature == 0)
    mute = next(i for i in items if i.feature != 0)
    prompts: list[str] = []

    def judge_by_topic(body: dict) -> tuple[int, dict]:
        prompt = body["messages"][-1]["content"]
        prompts.append(prompt)
        number = int(re.search(r"## Item (\d+)", prompt)[1])
        if number == mute.item:
            return chat_reply("I cannot tell.")
        shown = re.findall(r"^([A-J])\. (.*)$", prompt, re.MULTILINE)
        topical = [letter for letter, title in shown if set(title.split()) & set(PLANTED)]
        return chat_reply("Reasoning first.\n" + json.dumps(
            {"item": number, "picked": topical[:5], "verdict": "accept"}))

    url = chat_server(judge_by_topic)
    client = ChatClient(ChatConfig.load(env={"DISENTANGLE_LLM_BASE_URL": url,
                                             "DISENTANGLE_LLM_MODEL": "fake"}), tmp_path)
    answers = audit.judge_items(
        items, lambda p: client.complete([{"role": "user", "content": p}]), len(titles))
    assert len(prompts) == 4
    assert all("Judging feature labels (blind)" in p and '"picked"' in p for p in prompts)
    by_item = {a["item"]: a for a in answers}
    assert "unparsed" in by_item[mute.item]  # counted as unanswered, never guessed
    tallies = audit.score(audit.key_record(items, {}), by_item)
    assert tallies["all"].answered == 3 and tallies["all"].rate("accept") == 1.0
    assert len(set(by_item[planted.item]["picked"]) & set(planted.active)) >= 4


def _active(corpus: Corpus, feature: int) -> tuple[np.ndarray, np.ndarray]:
    matrix = corpus.codes.to_csr().tocsc()
    span = slice(matrix.indptr[feature], matrix.indptr[feature + 1])
    return matrix.indices[span], matrix.data[span]
