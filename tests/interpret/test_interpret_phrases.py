"""Contrastive key phrases: whole terms win over their fragments."""

from __future__ import annotations

from collections import Counter

import numpy as np

from disentangle.interpret.phrases import (
    Background,
    Grammar,
    LabelCoverage,
    PhraseIndex,
    concepts,
    contrastive_phrases,
    document_phrases,
    label_phrases,
)


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


def test_label_coverage_keeps_sub_topics_and_drops_word_matches_and_broader_members() -> None:
    texts = (["Transiting exoplanets observed with Kepler."] * 4            # 0-3: root
             + ["Hot Jupiters are exoplanets on short orbits."] * 4         # 4-7: sub-topic
             + ["An intrusion detection system for transit networks."] * 4  # 8-11: shared word
             + ["Dust in the interstellar medium."] * 2                     # 12-13
             + ["Molecular clouds in the interstellar medium."] * 2)        # 14-15
    coverage = LabelCoverage(
        PhraseIndex(texts),
        {1: ["exoplanet", "kepler"], 2: ["hot jupiters"], 3: ["intrusion detection"],
         4: ["molecular clouds"], 5: ["interstellar medium"]},
        {1: range(0, 4), 2: range(4, 8), 3: range(8, 12), 4: range(14, 16),
         5: range(12, 16)})
    assert coverage.share(1, 2) == 1.0 and coverage.belongs(1, 2)
    assert not coverage.belongs(1, 3)
    assert not coverage.belongs(4, 5)  # the member is broader than its root
    assert coverage.belongs(5, 4)
    assert label_phrases("dark matter in galaxies") == ["dark matter", "galaxy"]


def test_plurals_and_hyphens_fold_into_one_phrase_keeping_a_written_form() -> None:
    index = PhraseIndex(["Gamma-ray bursts seen by Swift.", "A gamma ray burst afterglow.",
                         "Two gamma-ray bursts."])
    counts = index.document_frequency([0, 1, 2])
    assert counts["gamma ray burst"] == 3
    assert index.surface("gamma ray burst", [0, 1, 2]) == "gamma-ray bursts"


def test_latin_plurals_and_singulars_ending_in_s_fold_with_their_other_form() -> None:
    pairs = [("Type Ia supernovae", "a type Ia supernova"),
             ("galaxy spectra", "a galaxy spectrum"),
             ("active galactic nuclei", "an active galactic nucleus"),
             ("gravitational lenses", "a gravitational lens"),
             ("selection biases", "selection bias")]
    for plural, single in pairs:
        keys = [max(document_phrases(text), key=len) for text in (plural, single)]
        assert keys[0] == keys[1], keys
    index = PhraseIndex(["Type Ia supernovae.", "A type Ia supernova.", "Supernovae."])
    assert index.surface("type ia supernova", [0, 1]) in {"type ia supernovae", "type ia supernova"}


def test_a_capital_letter_starts_a_name_but_never_continues_one() -> None:
    assert document_phrases("Young T Tauri stars.")["t tauri star"] == "T tauri stars"
    assert "m dwarf" in document_phrases("Planets around M dwarfs.")
    assert "matrix x" not in document_phrases("Let the matrix X be sparse.")
    assert "m t" not in document_phrases("The mass M T of the disc.")


def test_acronyms_keep_their_capitals_and_fold_with_lower_case_forms() -> None:
    phrases = document_phrases("Variability of AGNs seen by LSST; an AGN and agns.")
    assert phrases["agn"] == "AGNs" and phrases["lsst"] == "LSST"
    assert phrases["variability"] == "variability"


def test_the_corpus_teaches_which_words_are_verbs_and_labels_are_noun_phrases() -> None:
    texts = ([f"We outperform baseline {i}. Models can outperform. We rely on data." for i in
              range(5)]
             + ["Supervised learning for anomaly detection in the infrared, done robustly."] * 5
             + ["A model called Zeta, as we call it. The model is robust."] * 5)
    grammar = Grammar.learn(texts, _frequencies(texts))
    assert {"outperform", "rely"} <= grammar.verbs and "model" not in grammar.verbs
    for phrase in ("supervised learning", "anomaly detection", "infrared", "model"):
        assert grammar.is_noun_phrase(phrase), phrase
    for phrase in ("outperform baseline", "analysis rely", "model called", "robustly detect",
                   "large cosmological", "gradient gradient"):
        assert not grammar.is_noun_phrase(phrase), phrase


def test_an_acronym_joins_its_expansion_and_a_word_its_variants() -> None:
    names = ["dtw", "dynamic time warping", "lmxb", "low mass x ray binary", "ml",
             "machine learning", "fair", "fairness", "sign", "signal", "cluster", "clustering",
             "light curve", "lightcurve"]
    presence = np.ones((len(names), 3))
    presence[4, :2] = 0  # "ml" never in a document with "machine learning": a coincidence
    presence[5, 2] = 0
    groups = {tuple(names[i] for i in group) for group in concepts(names, presence)}
    assert ("dtw", "dynamic time warping") in groups
    assert ("lmxb", "low mass x ray binary") in groups
    assert ("fair", "fairness") in groups
    assert ("ml",) in groups and ("sign",) in groups and ("signal",) in groups
    assert ("cluster",) in groups and ("clustering",) in groups
    assert ("light curve", "lightcurve") in groups


def test_british_spellings_fold_with_american_ones() -> None:
    for british, american in [("CMB polarisation maps", "CMB polarization maps"),
                              ("the source catalogue", "the source catalog"),
                              ("modelling the colours", "modeling the colors"),
                              ("submillimetre galaxies", "submillimeter galaxies"),
                              ("neighbourhood behaviour", "neighborhood behavior")]:
        assert document_phrases(british).keys() == document_phrases(american).keys(), british


def test_background_counts_a_union_of_phrases_once_per_document() -> None:
    index = PhraseIndex(["Dynamic time warping (DTW).", "DTW distances.", "Dynamic time "
                         "warping alone.", "Nothing here."])
    background = Background.sample(index, 4, seed=0)
    assert background.union_count(["dtw", "dynamic time warping"]) == 3
    assert background.union_count(["dtw"]) == 2


def test_possessives_fold_and_math_takes_the_letters_glued_to_it() -> None:
    phrases = document_phrases("Mercury's orbit. Ly$\\alpha$ forest at 21 cm; SNe Ia; HI.")
    assert "mercury orbit" in phrases and "mercury's" not in phrases
    assert "forest" in phrases and not any(p.split()[0] == "ly" for p in phrases)
    assert "sne ia" in phrases
