"""How a label's fit with its feature's strongest documents is counted."""

from __future__ import annotations

import numpy as np

from disentangle.interpret.scoring import TOP_FIT_DOCUMENTS, top_cohesion, top_fit


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _corpus(close: int, dim: int = 64, size: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Random documents, the first ``close`` of which lie near the label's direction."""
    rng = np.random.default_rng(0)
    label = _unit(rng.standard_normal((1, dim)))
    documents = rng.standard_normal((size, dim))
    documents[:close] += 3 * label[0] * np.sqrt(dim)
    return _unit(documents), label


def test_fit_is_the_median_strongest_document_in_background_deviations() -> None:
    three_close, label = _corpus(close=3)
    two_close, _ = _corpus(close=2)
    strongest = [list(range(TOP_FIT_DOCUMENTS))]
    fit_three, = top_fit(label, strongest, three_close)
    fit_two, = top_fit(label, strongest, two_close)
    assert fit_three > 5, "three of five near the label: the median one stands out"
    assert abs(fit_two) < 2, "two of five: the median strongest document is a typical one"
    six_close, _ = _corpus(close=6)
    ranked = [[10, 11, 12, 0, 1, 2, 3, 4, 5]]
    assert top_fit(label, ranked, six_close)[0] < 2, "only the strongest five count"


def test_fit_is_nan_without_a_label_vector_or_documents() -> None:
    documents, label = _corpus(close=5)
    labels = np.vstack([label, np.zeros_like(label), label])
    fit = top_fit(labels, [[0, 1, 2], [0, 1, 2], []], documents)
    assert fit[0] > 5 and np.isnan(fit[1]) and np.isnan(fit[2])


def test_cohesion_is_high_for_documents_of_one_topic_and_low_for_two() -> None:
    rng = np.random.default_rng(1)
    dim, size = 64, 2000
    topics = _unit(rng.standard_normal((2, dim)))
    documents = rng.standard_normal((size, dim))
    documents[:20] += 3 * topics[0] * np.sqrt(dim)
    documents[20:30] += 3 * topics[1] * np.sqrt(dim)
    documents = _unit(documents)
    one, two, chance, single = top_cohesion(
        [list(range(20)), list(range(10, 30)), list(range(100, 120)), [0]], documents)
    assert one > 0.5, "twenty documents near one direction"
    assert 0.1 < two < one / 2 + 0.1, "half on each of two directions"
    assert abs(chance) < 0.05, "random documents are as alike as chance"
    assert np.isnan(single)
