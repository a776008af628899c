"""A synthetic corpus with one planted topic, a hashing embedder and an SAE that knows it.

Feature 0's encoder and decoder direction is the embedding of the planted topic's words, so it
fires on exactly the documents about that topic; the other features are random directions.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from disentangle.codes import SparseCodes, encode_embeddings
from disentangle.sae.model import SAEConfig, TopKSAE

PLANTED = ["exoplanet", "transit", "photometry", "kepler", "planetary", "orbit"]
OTHER_TOPICS = [
    ["neural", "network", "gradient", "training", "layers", "backpropagation"],
    ["galaxy", "cluster", "redshift", "lensing", "halo", "survey"],
    ["supernova", "explosion", "progenitor", "nucleosynthesis", "ejecta", "remnant"],
    ["kernel", "regression", "gaussian", "process", "bayesian", "posterior"],
]
FILLER = [f"word{i}" for i in range(300)]
DIM = 64


class HashingEmbedder:
    """Bag of words: each word a fixed pseudo-random unit vector; texts are normalised sums."""

    def __init__(self, dim: int = DIM) -> None:
        self.dim = dim
        self.calls = 0

    def word(self, word: str) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(word.encode()))
        vector = rng.standard_normal(self.dim)
        return vector / np.linalg.norm(vector)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            words = [w.strip(".,;") for w in text.lower().split()]
            for word in words:
                if word.isalpha() or word.isalnum():
                    out[i] += self.word(word)
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out


@dataclass
class Corpus:
    texts: list[str]
    embeddings: np.ndarray
    codes: SparseCodes
    sae: TopKSAE
    embedder: HashingEmbedder
    planted: np.ndarray
    """bool per document: is it about the planted topic."""


def make_corpus(documents: int = 1200, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    texts, planted = [], []
    for _ in range(documents):
        is_planted = rng.random() < 0.15
        topics = [OTHER_TOPICS[rng.integers(len(OTHER_TOPICS))]]
        if is_planted:
            topics.append(PLANTED)
        words = list(rng.choice(FILLER, 30))
        for topic in topics:
            words += list(rng.choice(topic, 12))
        rng.shuffle(words)
        texts.append(f"Title {len(texts)}\n\n" + " ".join(words) + ".")
        planted.append(is_planted)
    embedder = HashingEmbedder()
    embeddings = embedder.embed(texts)
    sae = TopKSAE(SAEConfig(d=DIM, n=16, k=2), seed=seed)
    with torch.no_grad():
        direction = torch.from_numpy(embedder.embed([" ".join(PLANTED)])[0])
        sae.W_dec[0] = direction
        sae.W_enc[0] = direction
        sae.b_lat[0] = -0.25  # fire only where the topic dominates
    codes = encode_embeddings(sae, embeddings)
    embedder.calls = 0
    return Corpus(texts, embeddings, codes, sae, embedder, np.array(planted))
