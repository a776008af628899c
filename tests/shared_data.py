"""Where the read-only shared data lies beside the checkout, and the ids tests can embed offline."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ARXIV = SHARED / "arxiv-astro-cs-2007-2017" / "arxiv_oai_astro_cs_2007-2017.jsonl.gz"
VECTORS = SHARED / "embeddings-minilm"


def ids_with_vectors(count: int) -> list[str]:
    """The first ``count`` ids of the arXiv file that have a precomputed vector, so a test
    reads only the head of the 100 MB file."""
    have = set((VECTORS / "ids.txt").read_text().split())
    found = []
    with gzip.open(ARXIV, "rt") as handle:
        for line in handle:
            if (paper_id := json.loads(line)["id"]) in have:
                found.append(paper_id)
                if len(found) == count:
                    break
    return found
