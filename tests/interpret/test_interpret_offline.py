"""The offline labeller on a corpus with a planted topic, and the pipeline around it."""

from __future__ import annotations

import numpy as np
import pytest
from planted_corpus import PLANTED, Corpus, make_corpus

from disentangle.codes import SparseCodes
from disentangle.interpret import (
    ExampleConfig,
    ExampleSelector,
    InterpretConfig,
    OfflineBackend,
    find_features,
    format_feature,
    format_summary,
    interpret_features,
    plot_scores,
    summarize,
)
from disentangle.interpret.backend import Label
from disentangle.interpret.phrases import document_phrases
from disentangle.workspace import BatchStore

CONFIG = InterpretConfig(examples=ExampleConfig(min_label_chars=100), batch_size=8)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return make_corpus()


def run(corpus: Corpus, codes: SparseCodes, out_dir, features=None):
    backend = OfflineBackend(corpus.texts, corpus.embeddings, corpus.sae, corpus.embedder)
    return interpret_features(corpus.texts, codes, corpus.embeddings, backend,
                              BatchStore(out_dir), features=features, config=CONFIG)


def test_labelling_and_scoring_sets_are_disjoint(corpus: Corpus) -> None:
    selector = ExampleSelector(corpus.codes, corpus.embeddings,
                               np.array([len(t) for t in corpus.texts]), CONFIG.examples)
    first, again = selector.select([0, 3]), selector.select([3])
    for ex in first:
        assert not set(ex.labelling.rows) & set(ex.scoring.rows)
        assert ex.scoring.active[ex.scoring.of_kind("top", "active")].all()
        assert not ex.scoring.active[ex.scoring.of_kind("random", "hard")].any()
        assert ex.scoring.of_kind("hard").sum() > 0
    np.testing.assert_array_equal(first[1].scoring.rows, again[0].scoring.rows)


def test_hard_negatives_are_nearer_than_random(corpus: Corpus) -> None:
    selector = ExampleSelector(corpus.codes, corpus.embeddings,
                               np.array([len(t) for t in corpus.texts]), CONFIG.examples)
    ex = selector.select([0])[0].scoring
    top = corpus.embeddings[ex.rows[ex.of_kind("top")]].mean(axis=0)
    hard = corpus.embeddings[ex.rows[ex.of_kind("hard")]] @ top
    random = corpus.embeddings[ex.rows[ex.of_kind("random")]] @ top
    assert hard.mean() > random.mean() + 0.05


def test_phrases_strip_math_and_stop_words() -> None:
    phrases = document_phrases(r"We study the $\alpha_{\rm eff}$ dark matter halo \cite{x}.")
    assert "dark matter halo" in phrases
    assert not any("alpha" in p or p == "rm" or "cite" in p or "we" in p.split()
                   for p in phrases)


def test_finds_planted_topic_and_beats_shuffled_control(corpus: Corpus, tmp_path) -> None:
    table = run(corpus, corpus.codes, tmp_path / "real", features=[0, 1, 2])
    row = table.to_pylist()[0]
    assert any(word in row["label"] for word in PLANTED), row["label"]
    rows = np.random.default_rng(1).permutation(len(corpus.codes))
    shuffled = SparseCodes(corpus.codes.indices[rows], corpus.codes.values[rows], 16)
    control = run(corpus, shuffled, tmp_path / "control", features=[0]).to_pylist()[0]
    assert row["pearson"] > 0.5 and row["pearson_balanced"] > 0.7
    assert row["pearson"] > control["pearson"] + 0.4
    assert row["f1"] > control["f1"]
    assert row["n_scored"] > 100


def test_resume_skips_done_features_and_outputs_render(corpus: Corpus, tmp_path) -> None:
    first = run(corpus, corpus.codes, tmp_path, features=range(8))
    counting = OfflineBackend(corpus.texts, corpus.embeddings, corpus.sae, corpus.embedder)
    seen: list[int] = []
    original = counting.label
    counting.label = lambda batch: seen.extend(e.feature for e in batch) or original(batch)
    table = interpret_features(corpus.texts, corpus.codes, corpus.embeddings, counting,
                               BatchStore(tmp_path), config=CONFIG)
    assert seen == list(range(8, 16))
    assert table.num_rows == 16
    assert table.slice(0, 8).column("label").to_pylist() == first.column("label").to_pylist()
    summary = summarize(table)
    assert summary["features"] == 16 and "median Pearson" in format_summary(summary)
    plot_scores(table, tmp_path / "scores.png")
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"
    label = table.column("label")[0].as_py()
    found = find_features(table, label.split(";")[0].upper())
    assert 0 in found.column("feature").to_pylist()
    assert f"feature 0: {label}" in format_feature(found.to_pylist()[0], ["a title"])


def test_contrastive_label_subtracts_its_not_phrase(corpus: Corpus) -> None:
    backend = OfflineBackend(corpus.texts, corpus.embeddings, corpus.sae, corpus.embedder)
    selector = ExampleSelector(corpus.codes, corpus.embeddings,
                               np.array([len(t) for t in corpus.texts]), CONFIG.examples)
    examples = selector.select([0])
    base, other = "dark matter", "galaxy"
    labels = [Label(base), Label(f"{base} (not {other})")]
    plain, contrastive = backend.predict(examples * 2, labels)
    docs = corpus.embeddings[examples[0].scoring.rows]
    expected = plain.scores - docs @ corpus.embedder.embed([other])[0]
    np.testing.assert_allclose(contrastive.scores, expected, rtol=1e-4, atol=1e-5)
