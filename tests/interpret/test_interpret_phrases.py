"""Contrastive key phrases: whole terms win over their fragments."""

from __future__ import annotations

from collections import Counter

from disentangle.interpret.phrases import Background, contrastive_phrases, document_phrases


def _frequencies(texts: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(document_phrases(text).keys())
    return counts


BACKGROUND = Background(_frequencies(
    [f"We observe galaxy number {i} with a telescope and report fluxes." for i in range(200)]
    + ["A Monte Carlo estimate of the luminosity function."] * 20), 220)


def test_fragments_give_way_to_the_term_they_always_sit_in() -> None:
    feature_docs = [f"Sampling with Markov chain Monte Carlo, case {word}." for word in
                    ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")]
    ranked = [p for p, _ in contrastive_phrases(_frequencies(feature_docs), len(feature_docs),
                                                BACKGROUND, top=20)]
    assert "markov chain monte carlo" in ranked
    for fragment in ("chain monte carlo", "markov chain monte", "monte carlo", "carlo"):
        assert fragment not in ranked


def test_a_phrase_that_also_stands_alone_is_kept() -> None:
    # "monte carlo" sits inside "markov chain monte carlo" in only half of the documents.
    feature_docs = ([f"Markov chain Monte Carlo sampler {w}." for w in ("one", "two", "three")]
                    + [f"A Monte Carlo radiative transfer code {w}." for w in ("four", "five",
                                                                               "six")])
    ranked = [p for p, _ in contrastive_phrases(_frequencies(feature_docs), len(feature_docs),
                                                BACKGROUND, top=40)]
    assert "monte carlo" in ranked and "markov chain monte carlo" in ranked
