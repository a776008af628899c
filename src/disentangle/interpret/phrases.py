"""Contrastive key phrases: what a feature's documents say that the corpus at large does not.

Candidates are 1–4-word phrases inside runs of content words (stop words and punctuation end a
run, LaTeX and math are removed first), counted once per document. Plurals and hyphens are
folded ("gamma-ray bursts" and "gamma ray burst" are one phrase); each phrase keeps the
surface form it was written in, so labels show words that occur in the abstracts. A phrase
that nearly always appears inside one longer phrase in the feature's documents ("chain monte
carlo" inside "markov chain monte carlo", "carlo" inside "monte carlo") gives way to it, so
labels are whole terms rather than fragments. A phrase scores by the
z-score of its log-odds of appearing in a feature document versus a background document, each
smoothed with a Beta prior centred on the background rate (Monroe et al.'s informative
Dirichlet prior, in its per-document form). The prior keeps phrases seen in two documents from
beating phrases seen in twenty, and the z-score favours phrases the evidence supports.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import numpy as np

MAX_NGRAM = 4
ABSORBED = 0.9
"""A phrase found inside one longer phrase in at least this share of its feature documents is
dropped in favour of the longer one."""

_MATH = re.compile(r"[A-Za-z]*(?:\$\$.*?\$\$|\$[^$]*\$|\\\[.*?\\\]|\\\(.*?\\\))[A-Za-z]*",
                   re.DOTALL)
"""Math, with any word glued to it: "Ly$\\alpha$" or "H$_2$O" is a symbol, and its letters
alone ("ly") are a fragment, not a word."""
_COMMAND = re.compile(r"\\[A-Za-z]+\*?|[{}^_~]")
_RUN_BREAK = re.compile(r"[.,;:!?()\[\]\"/=<>+|]+|\s-\s|\s+--?\s+")
_TOKEN = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")


@cache
def stop_words() -> frozenset[str]:
    """Function words and abstract boilerplate ("we propose", "results show")."""
    text = resources.files(__package__).joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def document_phrases(text: str) -> dict[str, str]:
    """The distinct candidate phrases of one text: folded key → first surface form.

    Surface forms are lower case except acronyms ("LSST", "AGNs"), which keep their capitals.
    A dict (ordered by first occurrence), never a set, so that everything counted from it
    comes out in the same order whatever ``PYTHONHASHSEED`` is.
    """
    stops = stop_words()
    text = _COMMAND.sub(" ", _MATH.sub(", ", text))
    phrases: dict[str, str] = {}
    for run in _RUN_BREAK.split(text):
        words: list[str] = []
        for token in run.split():
            original = token.strip("'-")
            if original.lower().endswith("'s"):  # "Mercury's" is Mercury
                original = original[:-2]
            word = original.lower()
            # a capital letter starts a name ("T Tauri", "M dwarfs", "H II"); it is never a
            # candidate alone (offline.candidates) nor inside a phrase ("matrix X", "M T sin")
            if _TOKEN.fullmatch(word) and (len(word) > 1 or original.isupper()) \
                    and word not in stops:
                if len(word) == 1:
                    _add_ngrams(words, phrases)
                    words = []
                words.append(original if _is_acronym(original) or len(original) == 1 else word)
                continue
            _add_ngrams(words, phrases)
            words = []
        _add_ngrams(words, phrases)
    return phrases


def _is_acronym(word: str) -> bool:
    letters = word[:-1] if word.endswith("s") else word
    return len(letters) > 1 and letters.isupper()


_IRREGULAR = {
    **{plural: plural[:-1] for plural in (
        "supernovae", "novae", "nebulae", "formulae", "antennae", "coronae")},
    **{plural: plural[:-1] + "um" for plural in (
        "spectra", "maxima", "minima", "optima", "momenta", "quanta")},
    **{plural: plural[:-1] + "us" for plural in (
        "nuclei", "radii", "tori", "loci", "foci", "stimuli")},
    **{plural: plural[:-1] + "on" for plural in ("criteria", "phenomena")},
    **{plural: plural[:-2] + "is" for plural in (
        "analyses", "hypotheses", "syntheses", "axes")},
    "matrices": "matrix", "indices": "index", "vertices": "vertex", "vortices": "vortex",
    "simplices": "simplex", "apices": "apex", "haloes": "halo",
    **{form: stem for stem in ("lens", "gas", "bias", "atlas") for form in (stem, stem + "es")},
}
"""Latin and Greek plurals common in scientific abstracts ("supernovae", "spectra", "nuclei",
"radii") and the singulars ending in "s" that the suffix rule would cut ("lens", "bias"),
each to one form: without them "type ia supernovae" and "type ia supernova" would be two
phrases, each covering part of the papers."""


def singular(word: str) -> str:
    """A crude English singular, only for grouping forms of one word (never shown)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


_BRITISH_ENDINGS = (("isation", "ization"), ("logue", "log"), ("elling", "eling"),
                    ("elled", "eled"), ("metre", "meter"), ("centre", "center"),
                    ("fibre", "fiber"), ("programme", "program"))
_BRITISH_SUFFIXES = tuple(british for british, _ in _BRITISH_ENDINGS)
_BRITISH_OUR = ("behaviour", "colour", "neighbour", "favour", "flavour", "vapour", "humour",
                "labour", "tumour", "odour", "harbour", "honour", "rumour", "endeavour")


def american(word: str) -> str:
    """The American spelling of a British one ("polarisation", "catalogue", "modelling",
    "colour", "submillimetre"), only for grouping (never shown): a fifth to a third of the
    corpus's authors write these the British way, which would split one term in two."""
    if word.endswith(_BRITISH_SUFFIXES):  # one test for the common case: no British ending
        for british, us in _BRITISH_ENDINGS:
            if word.endswith(british):
                return word[:-len(british)] + us
    if word.startswith(_BRITISH_OUR):
        return word.replace("our", "or", 1)
    return word


@lru_cache(maxsize=1 << 18)
def _key(word: str) -> str:
    """A word's folded form: singular, American spelling, hyphens as spaces ("gamma-rays" →
    "gamma ray")."""
    return " ".join(american(singular(part)) for part in word.split("-") if part)


def _add_ngrams(words: list[str], phrases: dict[str, str]) -> None:
    """Every 1–``MAX_NGRAM``-word window of ``words``, by key; the surface form is built only
    where it differs from the key (this loop is most of the labeller's time)."""
    keys = [_key(w.lower()) for w in words]
    changed = [k != w for k, w in zip(keys, words, strict=True)]
    for n in range(1, min(MAX_NGRAM, len(words)) + 1):
        for start in range(len(words) - n + 1):
            end = start + n
            key = keys[start] if n == 1 else " ".join(keys[start:end])
            if key not in phrases:
                phrases[key] = " ".join(words[start:end]) if any(changed[start:end]) else key


def is_term(phrase: str) -> bool:
    """No word twice ("gradient gradient" is an artefact of word lists, not a term)."""
    words = phrase.split(" ")
    return len(set(words)) == len(words)


VERB_CUES = frozenset({"we", "can", "may", "will", "could", "would", "might", "must",
                       "should", "cannot"})
"""Words after which English puts a verb ("we propose", "can outperform"); "to" is left out,
as it precedes nouns as often ("to zero", "to ESA")."""
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def verb_like_words(texts: Iterable[str], min_count: int = 2,
                    min_share: float = 0.1) -> frozenset[str]:
    """Folded words the texts mostly use as verbs: at least ``min_share`` of their uses (and
    ``min_count``) follow "we", "to" or a modal. Learnt from the corpus, so no tagger or
    word list has to know the field's vocabulary ("we simulate", "can outperform")."""
    cued: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for text in texts:
        tokens = _WORD.findall(text.lower())
        for previous, word in zip(["", *tokens], tokens, strict=False):
            key = _key(word)
            total[key] += 1
            if previous in VERB_CUES:
                cued[key] += 1
    return frozenset(w for w, c in cued.items() if c >= min_count and c >= min_share * total[w])


ADJECTIVE_ENDINGS = ("ical", "ous")
"""Endings of words that are nearly always adjectives: no noun phrase ends with one
("large cosmological", "statistical")."""


@dataclass(frozen=True)
class Grammar:
    """What the corpus says about its words, to keep candidate labels noun phrases: no
    phrase may start or end with a verb ("outperform state-of-the-art", "analysis relies") or
    an adverb ("robustly detect"), nor end with a participle ("model called") or an adjective."""

    verbs: frozenset[str]
    vocabulary: frozenset[str]
    """Folded single words of the corpus sample (to tell "robustly" from "anomaly")."""

    @classmethod
    def learn(cls, texts: Sequence[str], vocabulary: Iterable[str]) -> Grammar:
        return cls(verb_like_words(texts), frozenset(w for w in vocabulary if " " not in w))

    def is_adverb(self, word: str) -> bool:
        if len(word) <= 4 or not word.endswith("ly"):
            return False
        stem = word[:-2]
        return any(form in self.vocabulary
                   for form in (stem, stem + "le", stem[:-1] + "y" if stem.endswith("i") else ""))

    def is_participle(self, word: str) -> bool:
        if len(word) <= 4 or not word.endswith("ed") or word.endswith("eed"):
            return False
        forms = (word[:-2], word[:-1], word[:-3] if word[-3] == word[-4] else "")
        return any(form in self.vocabulary or form in self.verbs for form in forms if form)

    def is_noun_phrase(self, phrase: str) -> bool:
        words = phrase.split(" ")
        if len(set(words)) != len(words):
            return False
        first, last = words[0], words[-1]
        return not (first in self.verbs or last in self.verbs or self.is_adverb(first)
                    or self.is_adverb(last) or self.is_participle(last)
                    or last.endswith(ADJECTIVE_ENDINGS))


class PhraseIndex:
    """Per-document phrase sets, computed on first use (only docs that are examples get parsed)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts
        self._phrases: dict[int, dict[str, str]] = {}
        self._titles: dict[int, dict[str, str]] = {}

    def phrases(self, row: int) -> dict[str, str]:
        row = int(row)
        if row not in self._phrases:
            self._phrases[row] = document_phrases(self.texts[row])
        return self._phrases[row]

    def title_phrases(self, row: int) -> dict[str, str]:
        """Phrases of the document's title: its text up to the first blank line (the form of
        ``corpus.text.document_text``; a text without one is all title)."""
        row = int(row)
        if row not in self._titles:
            self._titles[row] = document_phrases(self.texts[row].split("\n\n", 1)[0])
        return self._titles[row]

    def document_frequency(self, rows: Iterable[int]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for row in rows:
            counts.update(self.phrases(row).keys())
        return counts

    def surface(self, phrase: str, rows: Iterable[int]) -> str:
        """The form ``phrase`` is most often written in among ``rows`` (ties: alphabetical)."""
        forms = Counter(self.phrases(row)[phrase] for row in rows if phrase in self.phrases(row))
        return min(forms, key=lambda form: (-forms[form], form)) if forms else phrase


@dataclass(frozen=True)
class Background:
    """Document frequencies of phrases over a random sample of the corpus."""

    counts: Counter[str]
    documents: int
    holders: Mapping[str, np.ndarray] | None = None
    """Per phrase, which sample documents hold it (to count a union of phrases exactly)."""
    rows: np.ndarray | None = None
    """The corpus rows of the sample documents, in sample order."""

    @classmethod
    def sample(cls, index: PhraseIndex, size: int, seed: int) -> Background:
        total = len(index.texts)
        rows = np.random.default_rng(seed).choice(total, size=min(size, total), replace=False)
        holders: dict[str, list[int]] = {}
        for position, row in enumerate(rows.tolist()):
            for phrase in index.phrases(row):
                holders.setdefault(phrase, []).append(position)
        return cls(Counter({p: len(h) for p, h in holders.items()}), len(rows),
                   {p: np.array(h, np.int32) for p, h in holders.items()}, rows)

    def holding(self, phrases: Sequence[str]) -> np.ndarray:
        """Positions of the sample documents holding any of ``phrases`` (needs holders)."""
        found = [self.holders[p] for p in phrases if self.holders and p in self.holders]
        if not found:
            return np.empty(0, np.int32)
        return found[0] if len(found) == 1 else np.unique(np.concatenate(found))

    def union_count(self, phrases: Sequence[str]) -> int:
        """Sample documents holding any of ``phrases`` (their summed counts, capped at the
        sample, when the sample kept no holders)."""
        if len(phrases) == 1 or self.holders is None:
            return min(sum(self.counts.get(p, 0) for p in phrases), self.documents)
        return len(self.holding(phrases))


def contrastive_phrases(
    foreground: Counter[str],
    documents: int,
    background: Background,
    *,
    top: int,
    min_documents: int = 2,
    prior_strength: float = 10.0,
) -> list[tuple[str, float]]:
    """The ``top`` phrases most over-represented in the foreground, with their z-scores.

    ``foreground`` holds document frequencies over ``documents`` feature documents. Only
    phrases in at least ``min_documents`` of them compete, and only positive z-scores count.
    """
    frequent = {p: c for p, c in foreground.items() if c >= min_documents}
    absorbed = absorbed_phrases(frequent)
    names = sorted(p for p in frequent if p not in absorbed and is_term(p))
    if not names:
        return []
    y_f = np.array([foreground[p] for p in names], np.float64)
    y_b = np.array([background.counts.get(p, 0) for p in names], np.float64)
    n_f, n_b = float(documents), float(background.documents)
    rate = (y_b + 1.0) / (n_b + 2.0)
    a, b = prior_strength * rate, prior_strength * (1.0 - rate)
    delta = np.log((y_f + a) / (n_f - y_f + b)) - np.log((y_b + a) / (n_b - y_b + b))
    variance = 1 / (y_f + a) + 1 / (n_f - y_f + b) + 1 / (y_b + a) + 1 / (n_b - y_b + b)
    z = delta / np.sqrt(variance)
    order = np.argsort(-z, kind="stable")[:top]
    return [(names[i], float(z[i])) for i in order if z[i] > 0]


def absorbed_phrases(foreground: Mapping[str, int]) -> set[str]:
    """Phrases whose documents nearly all contain one particular one-word-longer phrase
    (dropping the longer phrase's first or last word gives the shorter one). Passing only
    the phrases seen at least twice gives the same answer for those, much faster."""
    longest_extension: dict[str, int] = {}
    for phrase, count in foreground.items():
        words = phrase.split(" ")
        if len(words) < 2:
            continue
        for shorter in (" ".join(words[1:]), " ".join(words[:-1])):
            longest_extension[shorter] = max(longest_extension.get(shorter, 0), count)
    return {p for p, best in longest_extension.items()
            if p in foreground and best >= ABSORBED * foreground[p]}


def label_phrases(text: str) -> list[str]:
    """The plural-folded phrases a label asserts: its longest candidate phrases (so "dark
    matter in galaxies" asserts "dark matter" and "galaxy")."""
    keys = list(document_phrases(text))
    return [k for k in keys if not any(k != other and f" {k} " in f" {other} " for other in keys)]


class LabelCoverage:
    """How much of one feature's strongest documents another feature's description covers.

    A description is a feature's label phrases and keywords; it *covers* a document when one
    of its phrases occurs whole in it. Families use it to keep only members whose documents
    their root's description covers, at least as well as the member's covers the root's:
    a root at least as broad as its members, and no member attached through a shared word.
    """

    def __init__(self, index: PhraseIndex, descriptions: Mapping[int, Sequence[str]],
                 top_rows: Mapping[int, Sequence[int]], min_share: float = 0.3,
                 margin: float = 0.1) -> None:
        self.index = index
        self.phrases = {f: sorted({p for text in texts for p in label_phrases(text)})
                        for f, texts in descriptions.items()}
        self.top_rows = top_rows
        self.min_share = min_share
        self.margin = margin

    def share(self, describer: int, described: int) -> float:
        """Share of ``described``'s top documents containing a phrase of ``describer``."""
        rows = self.top_rows.get(described, ())
        phrases = self.phrases.get(describer, [])
        if not rows or not phrases:
            return 0.0
        hits = sum(any(p in self.index.phrases(r) for p in phrases) for r in rows)
        return hits / len(rows)

    def belongs(self, root: int, member: int) -> bool:
        down = self.share(root, member)
        return down >= self.min_share and down + self.margin >= self.share(member, root)


DERIVATIONS = ("ic", "ity", "ness")
"""Suffixes that make a variant of one word ("atom" → "atomic", "fair" → "fairness"); not
"-al", "-ary", "-ion" or "-ing", which also make other words ("signal", "boundary",
"formation", "clustering" beside galaxy "clusters")."""


def concepts(names: Sequence[str], presence: np.ndarray) -> list[list[int]]:
    """Candidate phrases grouped into concepts, as lists of positions in ``names``.

    One concept holds an acronym and its expansion ("dtw" and "dynamic time warping": the
    acronym's letters are the expansion's initials, perhaps less one in the middle, and some
    document holds both), the
    variants of one word (a longer word is the shorter plus one of :data:`DERIVATIONS`), and
    the spellings of one term with and without spaces ("light curve", "lightcurve").
    ``presence`` is a names × documents 0/1 matrix. Everything else is its own concept.
    """
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: int, b: int) -> None:
        parent[max(root(a), root(b))] = min(root(a), root(b))

    singles = {name: i for i, name in enumerate(names) if " " not in name}
    for i, name in enumerate(names):
        words = name.split(" ")
        if len(words) < 2:
            continue
        initials = "".join(w[0] for w in words)
        # one interior initial may be missing: "LMXB" for "low-mass x-ray binary"
        for short in {initials} | {initials[:k] + initials[k + 1:]
                                   for k in range(1, len(initials) - 1)}:
            acronym = singles.get(short)
            if acronym is not None and (presence[acronym] * presence[i]).any():
                join(acronym, i)
    by_joined: dict[str, int] = {}
    for i, name in enumerate(names):  # "data set", "dataset"; "non-linear", "nonlinear"
        joined = name.replace(" ", "")
        if joined in by_joined:
            join(by_joined[joined], i)
        by_joined.setdefault(joined, i)
    for word, i in singles.items():
        if len(word) < 4:
            continue
        for suffix in DERIVATIONS:
            other = singles.get(word + suffix)
            if other is not None:
                join(i, other)
    groups: dict[int, list[int]] = {}
    for i in range(len(names)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())
