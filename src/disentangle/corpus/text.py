"""What text stands for a paper, and what identifies a whole corpus.

``document_text`` must match the text the precomputed embeddings were made from, so both the
embedder and the provenance hash go through it.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa


def document_text(title: str, abstract: str) -> str:
    """The text embedded for one paper: title and abstract separated by a blank line."""
    return title.strip() + "\n\n" + abstract.strip()


def corpus_hash(table: pa.Table) -> str:
    """SHA-256 hex over ids and document texts in table order, for provenance records.

    Each value is length-prefixed so that no two different corpora can serialise alike.
    """
    digest = hashlib.sha256()
    ids = table.column("id").to_pylist()
    titles = table.column("title").to_pylist()
    abstracts = table.column("abstract").to_pylist()
    for paper_id, title, abstract in zip(ids, titles, abstracts, strict=True):
        for value in (paper_id, document_text(title, abstract)):
            data = value.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()
