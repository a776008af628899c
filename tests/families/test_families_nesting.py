"""Containment and closeness of a member's top documents under a root."""

from __future__ import annotations

import numpy as np

from disentangle.codes import SparseCodes
from disentangle.families import Nesting

ROOT, SUBTOPIC, WORD_MATCH, ELSEWHERE = 0, 1, 2, 3


def _nesting() -> Nesting:
    """Documents 0–9: root + sub-topic; 10–19: root + a word-matched feature whose papers are
    about something else; 20–29: a feature the root never fires with."""
    rows = [[ROOT, SUBTOPIC]] * 10 + [[ROOT, WORD_MATCH]] * 10 + [[ELSEWHERE, 4]] * 10
    indices = np.array(rows, np.int32)
    codes = SparseCodes(indices, np.ones_like(indices, np.float32), 5)
    embeddings = np.zeros((30, 3), np.float32)
    embeddings[:10, 0] = 1.0
    embeddings[10:20] = [0.2, 1.0, 0.0]  # the root fires here through a shared word
    embeddings[20:, 2] = 1.0
    top_rows = {ROOT: list(range(10)), SUBTOPIC: list(range(10)),
                WORD_MATCH: list(range(10, 20)), ELSEWHERE: list(range(20, 30))}
    return Nesting(codes, embeddings, top_rows)


def test_a_sub_topic_nests_by_activation_and_by_meaning():
    nesting = _nesting()
    assert nesting.containment(ROOT, SUBTOPIC) == 1.0
    assert nesting.closeness(ROOT, SUBTOPIC) > 0.99
    assert nesting.belongs(ROOT, SUBTOPIC)


def test_a_word_match_nests_by_activation_but_not_by_meaning():
    nesting = _nesting()
    assert nesting.containment(ROOT, WORD_MATCH) == 1.0
    assert nesting.closeness(ROOT, WORD_MATCH) < 0.3
    assert not nesting.belongs(ROOT, WORD_MATCH)


def test_a_feature_outside_the_roots_documents_does_not_nest():
    nesting = _nesting()
    assert nesting.containment(ROOT, ELSEWHERE) == 0.0
    assert not nesting.belongs(ROOT, ELSEWHERE)
    assert nesting.containment(ROOT, 4) == 0.0  # no top documents known: nothing nests
