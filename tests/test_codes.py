"""Per-feature statistics of sparse codes: how topical a feature's top documents are."""

from __future__ import annotations

import numpy as np

from disentangle.codes import SparseCodes, topic_coherence

N_FEATURES, WIDTH, DOCUMENTS = 64, 4, 400
TOPICAL, LEXICAL = 0, 1
TOPIC_CONTEXT = [2, 3, 4]
"""Features a topic's documents share besides the topical feature itself."""


def planted_codes(seed: int = 0) -> tuple[SparseCodes, list[list[int]]]:
    """Random codes, where feature 0 fires on 20 documents that also share a topic's
    context features, and feature 1 on 20 documents that share nothing else."""
    rng = np.random.default_rng(seed)
    indices = np.stack([rng.choice(np.arange(5, N_FEATURES), WIDTH, replace=False)
                        for _ in range(DOCUMENTS)]).astype(np.int32)
    values = rng.uniform(0.1, 1.0, size=indices.shape).astype(np.float32)
    topical_rows, lexical_rows = list(range(20)), list(range(20, 40))
    for row in topical_rows:
        indices[row, :3] = [TOPICAL, *rng.choice(TOPIC_CONTEXT, 2, replace=False)]
    for row in lexical_rows:
        indices[row, 0] = LEXICAL
    top_rows = [topical_rows, lexical_rows] + [[] for _ in range(N_FEATURES - 2)]
    return SparseCodes(indices, values, N_FEATURES), top_rows


def test_documents_sharing_a_topic_are_coherent_and_a_shared_word_alone_is_not() -> None:
    codes, top_rows = planted_codes()
    coherence = topic_coherence(codes, top_rows)
    assert coherence[TOPICAL] > 4 * coherence[LEXICAL]
    assert 0.5 < coherence[LEXICAL] < 1.5, "a lexical feature's documents are random ones"
    assert np.isnan(coherence[2:]).all(), "no top documents, no coherence"


def test_coherence_ignores_the_feature_itself() -> None:
    codes, top_rows = planted_codes()
    alone = codes.indices.copy()
    alone[:20, 1:] = codes.indices[200:220, 1:]  # keep feature 0, drop its topic context
    bare = topic_coherence(SparseCodes(alone, codes.values, N_FEATURES), top_rows)
    assert bare[TOPICAL] < 1.5
