"""A small synthetic world: random SAE, documents built from its features, a fake embedder.

Documents are sums of ``k`` decoder directions plus noise, so the SAE's codes mean something;
the fake embedder maps the word ``topicN`` to decoder row ``N`` (and other words to fixed
random vectors), so queries and text rewrites behave like a real embedder, deterministically.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pytest
import torch

from disentangle.codes import encode_embeddings
from disentangle.sae.model import SAEConfig, TopKSAE
from disentangle.search import Searcher

D, N, K, DOCS = 32, 48, 4, 800
ARCHIVES = ["astro-ph.GA", "astro-ph.EP", "astro-ph.CO", "cs.LG", "stat.ML", "hep-th"]


class WordEmbedder:
    """``topicN`` -> decoder row N; any other word -> a fixed pseudo-random direction."""

    def __init__(self, decoder: np.ndarray) -> None:
        self.decoder = decoder

    def _word(self, word: str) -> np.ndarray:
        if word.startswith("topic") and word[5:].isdigit():
            return self.decoder[int(word[5:])]
        rng = np.random.default_rng(zlib.crc32(word.encode()))
        return 0.3 * rng.standard_normal(self.decoder.shape[1]) / np.sqrt(self.decoder.shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.stack([sum(self._word(w) for w in text.lower().split()) for text in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="session")
def world() -> dict:
    torch.manual_seed(0)
    sae = TopKSAE(SAEConfig(d=D, n=N, k=K), seed=0)
    decoder = sae.W_dec.detach().numpy()
    rng = np.random.default_rng(0)
    features = np.stack([rng.choice(N, K, replace=False) for _ in range(DOCS)])
    weights = rng.uniform(0.5, 1.5, size=(DOCS, K))
    emb = np.einsum("bk,bkd->bd", weights, decoder[features])
    emb += 0.05 * rng.standard_normal(emb.shape)
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    codes = encode_embeddings(sae, emb)
    years = [None if i % 50 == 0 else 2007 + i % 11 for i in range(DOCS)]
    cats = [[ARCHIVES[i % 6]] + ([ARCHIVES[(i // 6) % 6]] if i % 3 == 0 else [])
            for i in range(DOCS)]
    corpus = pa.table({
        "id": [f"{i:04d}.0001" for i in range(DOCS)],
        "title": [f"doc {i}" for i in range(DOCS)],
        "abstract": [f"abstract {i}" for i in range(DOCS)],
        "categories": pa.array(cats, pa.list_(pa.string())),
        "primary_category": [c[0] for c in cats],
        "year": pa.array(years, pa.int32()),
    })
    labels = {f: f"topic {f} label" for f in range(N)}
    labels[5] = "exoplanet atmospheres"
    labels[6] = "exoplanet detection"
    labels[7] = "galaxy clusters"
    families = {"planets": [5, 6], 1: [7, 8]}
    family_labels = {"planets": "exoplanets", 1: "large-scale structure"}
    embedder = WordEmbedder(decoder)
    searcher = Searcher(emb, corpus, sae, codes, embedder, labels=labels, families=families,
                        family_labels=family_labels)
    return {"sae": sae, "emb": emb, "codes": codes, "corpus": corpus, "searcher": searcher,
            "embedder": embedder, "labels": labels}
