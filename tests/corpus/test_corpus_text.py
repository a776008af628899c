"""The embedded text and the provenance hash depend on exactly the ids and texts of a corpus."""

from __future__ import annotations

import pyarrow as pa

from disentangle.corpus import CORPUS_SCHEMA, corpus_hash, document_text


def table(*papers: tuple[str, str, str]) -> pa.Table:
    rows = [
        {
            "id": i,
            "title": t,
            "abstract": a,
            "categories": ["cs.LG"],
            "primary_category": "cs.LG",
            "year": None,
            "date": None,
        }
        for i, t, a in papers
    ]
    return pa.Table.from_pylist(rows, schema=CORPUS_SCHEMA)


def test_document_text_matches_the_precomputed_embeddings_recipe() -> None:
    assert document_text("  A title \n", "\tAn abstract.  ") == "A title\n\nAn abstract."


def test_corpus_hash_tracks_ids_texts_and_order() -> None:
    base = corpus_hash(table(("a", "T1", "A1"), ("b", "T2", "A2")))
    assert len(base) == 64 and base == corpus_hash(table(("a", "T1", "A1"), ("b", "T2", "A2")))
    assert base != corpus_hash(table(("a", "T1", "A1"), ("b", "T2", "A2 changed")))
    assert base != corpus_hash(table(("a", "T1", "A1"), ("c", "T2", "A2")))
    assert base != corpus_hash(table(("b", "T2", "A2"), ("a", "T1", "A1")))
    # Values are length-prefixed, so text cannot slide across a field boundary unnoticed.
    assert corpus_hash(table(("ab", "T", "A"))) != corpus_hash(table(("a", "bT", "A")))
