"""A labeller that needs no LLM: the phrase its activating abstracts share, counted, not guessed.

For each feature:

1. candidates: every 1–4-word noun phrase (plural-folded, fragments absorbed into the longer
   term they nearly always sit in, no verb, adverb, participle or adjective at its ends;
   :mod:`disentangle.interpret.phrases`) that occurs whole in at least ``min_documents`` of
   its activating labelling documents, grouped into *concepts*: an acronym with its expansion,
   a word with its variants; a concept covers a document when any member occurs in it;
2. each concept scores as a classifier of the feature's documents: its *recall* is the
   activation-weighted share of activating documents containing it; its *precision* is
   estimated from its rate in a random background sample against the feature's density
   (a generic word is in far more documents than the feature fires on; a fragment is precise
   but covers few). The score is their F1, minus a fraction of the share of hard negatives
   (topical neighbours where the feature is silent) containing it, plus small bonuses for
   longer phrases and for phrases in the top documents' titles, minus a penalty for words
   whose documents are no more alike than random ones (used in every field: "noise",
   "cost"). So a label is as broad as the activating set: a dense feature may be named
   "galaxies", a rare one must be specific. No candidate is ever chosen by embedding
   similarity alone;
3. the best concept is the label, the next ones sharing none of its words are the
   ``keywords``, and those of them most top documents hold are its ``alternatives`` (what
   tells it apart when another feature keeps the same label). When the best covers fewer
   than ``mixed_coverage`` of the top documents, a broader non-generic concept most top
   documents and titles hold, two concepts alike in meaning that cover them together,
   a concept in the titles of nearly all its strongest documents, or, when those documents
   share their other features as much as usual (a topic, see ``FeatureExamples.coherence``),
   a specific term in enough of them, or a phrase most of its alike strongest documents
   state in their titles still name the feature; otherwise it is flagged ``mixed``, shown by
   its best concept when its strongest documents are alike and otherwise labelled "mixed:
   a, b, c" with phrases that between them name most of its top documents;
4. ``contrast``: a phrase over-represented in the hard negatives against the activating
   documents, kept when subtracting its embedding separates the labelling documents clearly
   better. It is a separate field, never part of the label.

Prediction for scoring uses only the label's phrases and each held-out document's embedding
(the same embedder made both): the cosine to the label phrase plus ``keyword_weight`` times the
mean cosine to the keywords, minus ``contrast_weight`` times the cosine to the contrast phrase,
thresholded where F1 peaks on the labelling documents. Phrases are embedded once per process,
in sorted batches; a phrase's vector does not depend on what shares its batch (the local
MiniLM gives bit-identical vectors), so a resumed run labels exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from disentangle.interpret.backend import Embedder, Label
from disentangle.interpret.examples import FeatureExamples
from disentangle.interpret.phrases import (
    Background,
    Grammar,
    PhraseIndex,
    absorbed_phrases,
    concepts,
    contrastive_phrases,
)
from disentangle.interpret.scoring import Prediction, best_threshold
from disentangle.metrics import pearson

MIXED = "mixed"
"""Display prefix of a feature whose top documents share no topic: "mixed: a, b, c"."""


@dataclass(frozen=True)
class OfflineConfig:
    min_documents: int = 2
    """A phrase must occur in this many activating labelling documents to be a candidate."""
    background_documents: int = 5000
    hard_weight: float = 0.3
    """Penalty per unit share of labelling hard negatives containing the phrase."""
    ngram_bonus: float = 0.04
    """Bonus per extra word of a phrase (in units of F1)."""
    title_weight: float = 0.2
    """Bonus per unit share of top documents whose *title* holds the phrase: a title states
    what a paper is about, and titles are what a reader scans."""
    topical_floor: float = 0.05
    """Below this topicality (see ``_topicality``) a phrase is a generic word ..."""
    generic_weight: float = 0.2
    """... and loses up to this much score (in units of F1), in proportion to its shortfall."""
    topical_candidates: int = 30
    """Only the best-scored phrases are checked (the rest cannot become the label)."""
    topical_min_documents: int = 5
    shortlist: int = 8
    """At most this many of the best-scored phrases may become the label."""
    shortlist_margin: float = 0.2
    """... and only those scoring within this of the best."""
    separation_weight: float = 2.0
    """Weight of the embedding separation (Pearson on labelling documents) among them."""
    keywords: int = 4
    term_share: float = 0.7
    """A multi-word term holding the chosen single word replaces it when it is in this share
    of the top documents the word is in."""
    broad_coverage: float = 0.6
    """A feature whose best phrase covers too few top documents is still named by a phrase
    in this share of them ..."""
    broad_title: float = 0.5
    """... and in this share of their titles, if it is no generic word (a topic its papers
    state, broader than the phrase that best separates them: "astronomy" for papers on
    astronomy's community)."""
    broad_coherence: float = 0.1
    """... and if the top documents holding it are about one thing (see ``_coherence``)."""
    lead_documents: int = 5
    """The strongest top documents, which a reader sees first ..."""
    lead_title: float = 0.8
    """... name a feature whose best phrase covers too few top documents when a phrase that
    is no generic word is in this share of their titles (an object, a method: "Terzan 5")."""
    lead_cohesion: float = 0.2
    """A feature whose best phrase covers too few top documents but whose strongest
    (``lead_documents``) are alike (their topicality, as in ``_topicality``, reaches this) has
    a topic: the one those documents show a reader first. Judges rejected "mixed: …" on 8 of
    the 10 such features they saw, against 4 of 28 below it (persistent homology, the ANAIS
    experiment, flux standards). Such a feature stays ``mixed`` but is shown by its best
    phrase, not a list, unless ..."""
    lead_share: float = 0.6
    lead_stated: float = 0.4
    """... a listable phrase is in this share of them and this share of their titles (a topic
    the papers state, not a word they happen to use): that phrase names it, and it is not
    mixed."""
    topic_coherence: float = 1.0
    """A feature whose top documents share their other features at least as much as the
    median feature of its density (``FeatureExamples.coherence`` ≥ this) has a topic even
    when its best phrase covers too few of them ..."""
    topic_topicality: float = 0.2
    topic_cohesion: float = 0.25
    """... and is named by the best listable multi-word term in ``mixed_coverage`` of them
    whose topicality (see ``_topicality``) and coherence (``_coherence``) reach these (judges
    rejected "mixed" on such features: "molecular gas" on molecular-line observations)."""
    synonym_candidates: int = 8
    """When the best phrase covers too few top documents, this many are tried in pairs."""
    synonym_cosine: float = 0.6
    """Two phrases this alike (cosine of their embeddings) may name one topic together."""
    cover_candidates: int = 30
    """Phrases a mixed feature's listed phrases are chosen from ..."""
    cover_floor: float = 0.5
    """... scoring at least this share of the best one (no filler words)."""
    mixed_coverage: float = 0.4
    """Below this share of top documents containing the best phrase, the feature is mixed."""
    alternatives: int = 3
    """Phrases kept for when another feature has the same label (see ``_alternatives``) ..."""
    alternative_coverage: float = 0.3
    """... each in this share of the top documents."""
    keyword_weight: float = 0.25
    """Weight of the keywords' mean direction in prediction, against the label's (0.5 and more
    lowered the held-out Pearson of 256 demo features: keywords are broader than labels)."""
    contrast_candidates: int = 20
    """Phrases of the hard negatives tried as the contrast."""
    contrast_max_rate: float = 0.3
    """A contrast phrase must be rarer than this in the corpus: common words say nothing."""
    contrast_weight: float = 1.0
    """How much the cosine to the contrast phrase is subtracted in prediction."""
    contrast_gain: float = 0.0
    """Minimum gain in labelling separation (Pearson) for keeping a contrast."""
    seed: int = 0


@dataclass(frozen=True)
class Candidate:
    phrase: str
    """The plural-folded key."""
    score: float
    coverage: float
    """Activation-weighted share of activating labelling documents containing it."""
    top_coverage: float
    """Share of the top labelling documents containing it."""
    hard: float
    background: float
    title: float = 0.0
    """Share of the top labelling documents whose title holds it."""
    lead_title: float = 0.0
    """Share of the strongest (``lead_documents``) top documents whose title holds it."""
    members: tuple[str, ...] = ()
    """Keys of the phrases merged into this concept (acronym and expansion, word variants);
    coverage counts documents holding any of them."""


class OfflineBackend:
    name = "offline"

    def __init__(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray,
        embedder: Embedder,
        config: OfflineConfig | None = None,
    ) -> None:
        self.config = config or OfflineConfig()
        self.index = PhraseIndex(texts)
        self.embeddings = embeddings
        self.embedder = embedder
        self._background: Background | None = None
        self._grammar: Grammar | None = None
        self._topical: dict[tuple[str, ...], float] = {}
        self._sample: tuple[np.ndarray, float] | None = None
        self._vectors: dict[str, np.ndarray] = {}

    def spec(self) -> dict[str, Any]:
        return {"labeller": "concepts-v8", **asdict(self.config)}

    @property
    def background(self) -> Background:
        if self._background is None:
            cfg = self.config
            self._background = Background.sample(self.index, cfg.background_documents, cfg.seed)
        return self._background

    @property
    def grammar(self) -> Grammar:
        if self._grammar is None:
            cfg = self.config
            rows = np.random.default_rng(cfg.seed).choice(
                len(self.index.texts), size=min(cfg.background_documents, len(self.index.texts)),
                replace=False)
            self._grammar = Grammar.learn([self.index.texts[r] for r in rows],
                                          self.background.counts)
        return self._grammar

    def label(self, batch: Sequence[FeatureExamples]) -> list[Label]:
        ranked = [self.candidates(examples) for examples in batch]
        shortlists = [self._shortlist(examples, candidates)
                      for examples, candidates in zip(batch, ranked, strict=True)]
        contrasts = [self._contrasts(examples) for examples in batch]
        self._embed([p for options in shortlists for p in options.values()]
                    + [p for options in contrasts for p in options])
        drafts = [self._draft(examples, candidates, options) for examples, candidates, options
                  in zip(batch, ranked, shortlists, strict=True)]
        self._embed([k for label in drafts if label.text
                     for k in (label.phrase or label.text, *label.keywords)])
        return [self._with_contrast(examples, label, options) if label.text else label
                for examples, label, options in zip(batch, drafts, contrasts, strict=True)]

    def predict(
        self, batch: Sequence[FeatureExamples], labels: Sequence[Label]
    ) -> list[Prediction]:
        self._embed([p for label in labels if label.text
                     for p in (label.phrase or label.text, *label.keywords, label.contrast) if p])
        predictions = []
        for examples, label in zip(batch, labels, strict=True):
            if not label.text:
                scores = np.zeros(len(examples.scoring.rows), np.float32)
                predictions.append(Prediction(scores, 0.0, failures=len(scores)))
                continue
            vector = self._direction(label)
            on_labelling = self._doc_vectors(examples.labelling.rows) @ vector
            predictions.append(Prediction(
                self._doc_vectors(examples.scoring.rows) @ vector,
                best_threshold(on_labelling, examples.labelling.active),
            ))
        return predictions

    def candidates(self, examples: FeatureExamples) -> list[Candidate]:
        """Every concept of the activating labelling documents, best first."""
        cfg = self.config
        items = examples.labelling
        active = np.flatnonzero(items.active)
        if not len(active):
            return []
        rows = items.rows[active].tolist()
        weights = items.activations[active].astype(np.float64)
        is_top = items.of_kind("top")[active]
        need = min(cfg.min_documents, len(rows))
        counts = {p: c for p, c in self.index.document_frequency(rows).items() if c >= need}
        skip = absorbed_phrases(counts)
        names = sorted(p for p in counts if p not in skip and self.grammar.is_noun_phrase(p)
                       and len(p) > 1
                       and (len(p) > 2 or self.index.surface(p, rows).isupper()))
        if not names:
            return []
        position = {name: i for i, name in enumerate(names)}
        hard_rows = items.rows[items.of_kind("hard")].tolist()
        top_rows = [row for row, top in zip(rows, is_top, strict=True) if top]
        presence = self._presence(position, rows, self.index.phrases)
        groups = concepts(names, presence)
        members = np.zeros((len(groups), len(names)), np.float64)
        for g, group in enumerate(groups):
            members[g, group] = 1.0

        def union(matrix: np.ndarray) -> np.ndarray:
            return (members @ matrix > 0).astype(np.float64)

        held = union(presence)
        coverage = held @ weights / weights.sum()
        top_coverage = held[:, is_top].mean(axis=1) if is_top.any() else coverage
        hard = union(self._presence(position, hard_rows, self.index.phrases)).mean(axis=1) \
            if hard_rows else np.zeros(len(groups))
        in_titles = union(self._presence(position, top_rows, self.index.title_phrases)) \
            if top_rows else np.zeros((len(groups), 1))
        titles, lead = in_titles.mean(axis=1), in_titles[:, :cfg.lead_documents].mean(axis=1)
        background = self.background
        keys = [[names[i] for i in group] for group in groups]
        rate = (np.array([background.union_count(k) for k in keys], np.float64) + 0.5) / (
            background.documents + 1.0)
        precision = np.minimum(1.0, coverage * examples.density / rate)
        f1 = 2 * precision * coverage / np.maximum(precision + coverage, 1e-12)
        shown = [self._concept_name(group, names, presence, is_top) for group in groups]
        words = np.array([n.count(" ") for n in shown], np.float64)
        total = (f1 - cfg.hard_weight * hard + cfg.ngram_bonus * words
                 + cfg.title_weight * titles)
        for i in np.argsort(-total, kind="stable")[:cfg.topical_candidates]:
            shortfall = cfg.topical_floor - self._topicality(tuple(keys[i]))
            total[i] -= cfg.generic_weight * min(max(shortfall / cfg.topical_floor, 0.0), 1.0)
        order = np.argsort(-total, kind="stable")
        return [Candidate(shown[i], float(total[i]), float(coverage[i]), float(top_coverage[i]),
                          float(hard[i]), float(rate[i]), float(titles[i]), float(lead[i]),
                          tuple(keys[i]))
                for i in order]

    def _topicality(self, keys: tuple[str, ...]) -> float:
        """How much more alike the sample documents holding a phrase are than as many random
        ones: (|mean|² − its expectation for random documents) / (1 − corpus |mean|²), about 0
        for a word used in every field ("noise", "cost", "design"), well above 0 for a topic
        ("cepheids", "inflation"). Phrases in too few sample documents count as topical."""
        if keys not in self._topical:
            positions = self.background.holding(keys)
            value = 1.0
            if len(positions) >= self.config.topical_min_documents:
                vectors, base = self._sample_vectors
                spread = float(np.sum(vectors[positions].mean(axis=0) ** 2))
                chance = base + (1.0 - base) / len(positions)
                value = (spread - chance) / (1.0 - base)
            self._topical[keys] = value
        return self._topical[keys]

    def _coherence(self, candidate: Candidate, rows: list[int]) -> float:
        """Topicality (as in ``_topicality``) of the documents among ``rows`` holding the
        candidate: low when one word names two topics ("cold" spot, "cold" start)."""
        return self._cohesion(sorted(self._holders(candidate, rows, self.index.phrases)))

    def _cohesion(self, rows: Sequence[int]) -> float:
        """Topicality (as in ``_topicality``) of the documents ``rows``: how much more alike
        they are than as many random documents (0 for fewer than two)."""
        if len(rows) < 2:
            return 0.0
        _, base = self._sample_vectors
        spread = float(np.sum(self._doc_vectors(np.asarray(rows, np.int64)).mean(axis=0) ** 2))
        return (spread - base - (1.0 - base) / len(rows)) / (1.0 - base)

    @property
    def _sample_vectors(self) -> tuple[np.ndarray, float]:
        """Embeddings of the background sample and the squared norm of their mean."""
        if self._sample is None:
            rows = self.background.rows
            vectors = self._doc_vectors(np.asarray(rows, np.int64)) if rows is not None else \
                np.zeros((self.background.documents, self.embeddings.shape[1]), np.float32)
            self._sample = (vectors, float(np.sum(vectors.mean(axis=0) ** 2)))
        return self._sample

    @staticmethod
    def _presence(position: dict[str, int], rows: Sequence[int],
                  phrases_of: Callable[[int], dict[str, str]]) -> np.ndarray:
        """names × ``rows`` 0/1 matrix: does the document (or its title) hold the phrase."""
        presence = np.zeros((len(position), len(rows)), np.float64)
        for column, row in enumerate(rows):
            hits = [position[p] for p in phrases_of(row) if p in position]
            presence[hits, column] = 1.0
        return presence

    @staticmethod
    def _concept_name(group: list[int], names: list[str], presence: np.ndarray,
                      is_top: np.ndarray) -> str:
        """The member naming a concept: an expansion before its acronym, then the member in
        most top documents, then in most documents, then the longer one. A term written both
        with and without spaces ("light curve", "lightcurve") is named as most write it."""
        closed = {names[i] for i in group if " " not in names[i]}

        def rank(i: int) -> tuple[int, float, float, int, str]:
            spelt = " " in names[i] and names[i].replace(" ", "") not in closed
            return (int(spelt), float(presence[i, is_top].sum()), float(presence[i].sum()),
                    names[i].count(" "), names[i])
        return names[max(group, key=rank)]

    def _shortlist(self, examples: FeatureExamples, ranked: list[Candidate]) -> dict[str, str]:
        """Surface form by key of the candidates whose embeddings the label needs: those close
        enough to the best to be the label and, when the best covers too few top documents,
        the ones that may be a second name of its topic."""
        cfg = self.config
        if not ranked:
            return {}
        rows = examples.labelling.rows[examples.labelling.active].tolist()
        floor = ranked[0].score - cfg.shortlist_margin
        wanted = [c for c in ranked[:cfg.shortlist] if c.score >= floor]
        if ranked[0].top_coverage < cfg.mixed_coverage:
            wanted = ranked[:cfg.synonym_candidates]
        return {c.phrase: self.index.surface(c.phrase, rows) for c in wanted}

    def _draft(self, examples: FeatureExamples, ranked: list[Candidate],
               shortlist: dict[str, str]) -> Label:
        """Label, keywords and mixed flag (the contrast comes later). The label is the
        shortlisted phrase whose score plus embedding separation is best: the counts decide
        which phrases may name the feature, the embedding only breaks near-ties among them.
        When it covers too few top documents, ``_name_anyway`` may still name the feature
        ("click-through" beside "conversion rate" makes one topic of the two, the label
        staying the better-scored one); otherwise the feature is mixed, shown by its best
        phrase when its strongest documents are alike and by a list of phrases when not."""
        cfg = self.config
        if not ranked:
            return Label("", "no phrase occurs in two activating documents", True)
        items = examples.labelling
        floor = ranked[0].score - cfg.shortlist_margin
        options = [c for c in ranked[:cfg.shortlist] if c.score >= floor]
        vectors = np.stack([self._vectors[shortlist[c.phrase]] for c in options])
        separation = _separation(self._doc_vectors(items.rows) @ vectors.T, items.active)
        total = np.array([c.score for c in options]) + cfg.separation_weight * separation
        rows = items.rows[items.active].tolist()
        top_rows = items.rows[items.of_kind("top") & items.active].tolist()
        best = self._as_term(options[int(np.argmax(total))], ranked, rows, top_rows)
        mixed = best.top_coverage < cfg.mixed_coverage
        chosen = [best]
        if mixed:
            named = self._name_anyway(examples, ranked, shortlist, rows, top_rows)
            if named:
                chosen, mixed = named, False
        used = {w for c in chosen for w in c.phrase.split()}
        for candidate in ranked:
            if len(chosen) > cfg.keywords or candidate.score <= 0:
                break
            if not used & set(candidate.phrase.split()):
                chosen.append(candidate)
                used.update(candidate.phrase.split())
        shown = [shortlist.get(c.phrase) or self.index.surface(c.phrase, rows) for c in chosen]
        evidence = "; ".join(f"{c.phrase} (covers {c.coverage:.0%}, top {c.top_coverage:.0%}, "
                             f"title {c.title:.0%}, hard {c.hard:.0%}, corpus "
                             f"{c.background:.1%})" for c in chosen)
        alternatives = tuple(shortlist.get(c.phrase) or self.index.surface(c.phrase, rows)
                             for c in self._alternatives(chosen[0], ranked))
        if not mixed:
            return Label(shown[0], evidence, keywords=tuple(shown[1:]), alternatives=alternatives)
        if self._cohesion(top_rows[:cfg.lead_documents]) >= cfg.lead_cohesion:
            return Label(shown[0], evidence, keywords=tuple(shown[1:]), mixed=True,
                         phrase=shown[0], alternatives=alternatives)
        listed = [shortlist.get(c.phrase) or self.index.surface(c.phrase, rows)
                  for c in self._cover(ranked, top_rows)]
        return Label(f"{MIXED}: {', '.join(listed)}", evidence, keywords=tuple(shown[1:]),
                     mixed=True, phrase=shown[0])

    def _name_anyway(self, examples: FeatureExamples, ranked: list[Candidate],
                     shortlist: dict[str, str], rows: list[int],
                     top_rows: list[int]) -> list[Candidate]:
        """What names a feature whose best phrase covers too few top documents, first rule
        that applies: a broad phrase most of them and their titles hold; two phrases alike in
        meaning covering them together; a phrase in nearly all the strongest titles; when the
        documents share a topic (coherence), a specific term covering enough of them; when the
        strongest documents are alike, a phrase most of them hold and state in their titles.
        Empty: the feature is mixed."""
        cfg = self.config
        broad = [c for c in ranked if c.score > 0 and c.top_coverage >= cfg.broad_coverage
                 and c.title >= cfg.broad_title
                 and self._topicality(c.members) >= cfg.topical_floor
                 and self._coherence(c, top_rows) >= cfg.broad_coherence]
        if broad:
            return broad[:1]
        pair = self._synonyms(ranked, shortlist, top_rows)
        if pair:
            return list(pair)
        listable = self._listable(ranked)
        lead = [self._as_term(c, ranked, rows, top_rows) for c in listable
                if c.lead_title >= cfg.lead_title
                and self._topicality(c.members) >= cfg.topical_floor]
        if lead:
            return lead[:1]
        if examples.coherence >= cfg.topic_coherence:  # NaN: unknown, so no topic
            topic = [c for c in listable
                     if " " in c.phrase and c.top_coverage >= cfg.mixed_coverage
                     and self._topicality(c.members) >= cfg.topic_topicality
                     and self._coherence(c, top_rows) >= cfg.topic_cohesion]
            if topic:
                return topic[:1]
        strongest = top_rows[:cfg.lead_documents]
        if self._cohesion(strongest) < cfg.lead_cohesion:
            return []
        return [self._as_term(c, ranked, rows, top_rows) for c in listable
                if c.lead_title >= cfg.lead_stated
                and len(self._holders(c, strongest, self.index.phrases))
                >= cfg.lead_share * len(strongest)
                and self._topicality(c.members) >= cfg.topical_floor][:1]

    def _alternatives(self, label: Candidate, ranked: list[Candidate]) -> list[Candidate]:
        """Phrases that tell the feature apart when another one keeps its label, best first:
        sharing no word with the label, in ``alternative_coverage`` of the top documents (a
        keyword may come from a few weaker documents on another topic), no generic word."""
        cfg = self.config
        words = set(label.phrase.split())
        found: list[Candidate] = []
        for c in ranked:
            if len(found) == cfg.alternatives:
                break
            if (c.score > 0 and c.top_coverage >= cfg.alternative_coverage
                    and not words & set(c.phrase.split())
                    and self._topicality(c.members) >= cfg.topical_floor):
                found.append(c)
        return found

    def _as_term(self, best: Candidate, ranked: list[Candidate], rows: list[int],
                 top_rows: list[int]) -> Candidate:
        """A single word (as written: "early-type" is one) gives way to the multi-word term
        holding it that covers nearly as many top documents ("string" → "cosmic strings",
        "generative" → "generative adversarial networks", "early-type" → "early-type
        galaxies"): a reader names the term, not the word. Failing that, to a term of
        topical words whose others are in nearly every top document holding the word, even where
        the papers do not write them side by side ("fluorescence" → "air fluorescence" on
        papers about the fluorescence yield of air): the papers share the qualifier, so the
        term is no narrower than the word."""
        if " " in self.index.surface(best.phrase, rows):
            return best
        cfg = self.config
        # never so narrow that a named feature would become mixed
        floor = max(cfg.term_share * best.top_coverage,
                    min(best.top_coverage, cfg.mixed_coverage))
        inside = f" {best.phrase} "
        terms = [c for c in ranked if c.score > 0
                 and c.phrase.count(" ") > best.phrase.count(" ") and inside in f" {c.phrase} "]
        covering = [c for c in terms if c.top_coverage >= floor]
        if covering:
            return _longest(covering)
        holding = self._holders(best, top_rows, self.index.phrases)
        qualified = [c for c in terms if c.top_coverage >= cfg.mixed_coverage
                     and self._qualifies(c, best, holding)]
        return _longest(qualified) if qualified else best

    def _qualifies(self, term: Candidate, word: Candidate, holding: set[int]) -> bool:
        """Whether every word of ``term`` is topical (a word of every field, "web", names
        papers of several topics, and a qualifier would name one of them) and each other word
        is in ``term_share`` of the top documents that hold ``word`` (a qualifier the papers
        share, not a subset of them)."""
        cfg = self.config
        return bool(holding) and all(
            self._topicality((w,)) >= cfg.topical_floor
            and (w == word.phrase or sum(w in self.index.phrases(row) for row in holding)
                 >= cfg.term_share * len(holding))
            for w in term.phrase.split())

    def _holders(self, candidate: Candidate, rows: Sequence[int],
                 phrases_of: Callable[[int], dict[str, str]]) -> set[int]:
        """The rows whose text (or title) holds a member of ``candidate``'s concept."""
        keys = candidate.members or (candidate.phrase,)
        return {row for row in rows if any(k in phrases_of(row) for k in keys)}

    def _synonyms(self, ranked: list[Candidate], shortlist: dict[str, str],
                  top_rows: list[int]) -> tuple[Candidate, Candidate] | None:
        """The two embedded candidates, alike in meaning (cosine of their phrases), that
        together cover the most top documents, if enough; the better-scored first, and only
        if it is a multi-word phrase (a single word covering this little is rarely a topic)."""
        cfg = self.config
        options = [c for c in ranked if c.phrase in shortlist and c.score > 0]
        holders = [self._holders(c, top_rows, self.index.phrases) for c in options]
        best, best_cover = None, cfg.mixed_coverage * max(len(top_rows), 1)
        for i, first in enumerate(options):
            for j in range(i + 1, len(options)):
                second = options[j]
                if " " not in first.phrase or set(first.phrase.split()) & set(
                        second.phrase.split()):
                    continue
                cover = len(holders[i] | holders[j])
                if cover < best_cover:
                    continue
                a, b = self._vectors[shortlist[first.phrase]], self._vectors[shortlist[
                    second.phrase]]
                cosine = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
                if cosine >= cfg.synonym_cosine:
                    best, best_cover = (first, second), cover
        return best

    def _cover(self, ranked: list[Candidate], top_rows: list[int]) -> list[Candidate]:
        """For a mixed feature, up to three phrases that between them name as many top
        documents as possible, each found in the titles where it can be, so a reader can
        see which papers each comes from."""
        options = self._listable(ranked) or ranked[:1]
        text = [self._holders(c, top_rows, self.index.phrases) for c in options]
        title = [self._holders(c, top_rows, self.index.title_phrases) for c in options]
        chosen: list[int] = []
        left, used = set(top_rows), set()
        while len(chosen) < 3 and left:
            gains = [((len(text[i] & left) + len(title[i] & left)) * options[i].score, -i)
                     for i in range(len(options))
                     if i not in chosen and not used & set(options[i].phrase.split())]
            if not gains or max(gains)[0] <= 0:
                break
            pick = -max(gains)[1]
            chosen.append(pick)
            left -= text[pick]
            used.update(options[pick].phrase.split())
        return [options[i] for i in chosen] or options[:1]

    def _listable(self, ranked: list[Candidate]) -> list[Candidate]:
        """The phrases that may name part of a feature whose best phrase covers too few top
        documents: among the best-ranked, scoring at least ``cover_floor`` of the best."""
        cfg = self.config
        floor = max(ranked[0].score * cfg.cover_floor, 0.0)
        return [c for c in ranked[:cfg.cover_candidates] if c.score > floor]

    def _direction(self, label: Label) -> np.ndarray:
        """The vector whose dot product with a document embedding is the label's prediction."""
        cfg = self.config
        vector = self._vectors[label.phrase or label.text].copy()
        if label.keywords:
            vector += cfg.keyword_weight * np.mean([self._vectors[k] for k in label.keywords],
                                                   axis=0)
        if label.contrast:
            vector -= cfg.contrast_weight * self._vectors[label.contrast]
        return vector

    def _contrasts(self, examples: FeatureExamples) -> list[str]:
        """Phrases over-represented in the labelling hard negatives against the activating ones."""
        items = examples.labelling
        hard = items.rows[items.of_kind("hard")].tolist()
        active = items.rows[items.active].tolist()
        if not hard or not active:
            return []
        against = Background(self.index.document_frequency(active), len(active))
        found = contrastive_phrases(self.index.document_frequency(hard), len(hard), against,
                                    top=self.config.contrast_candidates,
                                    min_documents=min(self.config.min_documents, len(hard)))
        limit = self.config.contrast_max_rate * self.background.documents
        return [self.index.surface(p, hard) for p, _ in found
                if self.background.counts.get(p, 0) < limit]

    def _with_contrast(self, examples: FeatureExamples, label: Label, others: list[str]) -> Label:
        """``label`` with the contrast phrase that clearly improves separation, if any."""
        items = examples.labelling
        words = set((label.phrase or label.text).split())
        options = [label] + [replace(label, contrast=other)
                             for other in others if not words & set(other.split())]
        directions = np.stack([self._direction(option) for option in options])
        separation = _separation(self._doc_vectors(items.rows) @ directions.T, items.active)
        best = int(np.argmax(separation))
        return options[best] if separation[best] >= separation[0] + self.config.contrast_gain \
            else label

    def _doc_vectors(self, rows: np.ndarray) -> np.ndarray:
        order = np.argsort(rows, kind="stable")
        vectors = np.empty((len(rows), self.embeddings.shape[1]), np.float32)
        vectors[order] = np.asarray(self.embeddings[rows[order]], np.float32)
        return vectors

    def _embed(self, texts: list[str]) -> None:
        """Embed every text not embedded yet, in one call, in sorted order (the embedder pads
        per batch, so a fixed order keeps the vectors, and the labels, reproducible)."""
        new = sorted({t for t in texts if t not in self._vectors})
        if new:
            vectors = np.asarray(self.embedder.embed(new), np.float32)
            self._vectors.update(zip(new, vectors, strict=True))


def _longest(terms: Sequence[Candidate]) -> Candidate:
    """The term with most words (then covering most top documents, then best scored)."""
    return max(terms, key=lambda c: (c.phrase.count(" "), c.top_coverage, c.score))


def _separation(cosines: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per column, Pearson of the scores with the truth (0 where undefined)."""
    return np.nan_to_num(np.array([pearson(cosines[:, j], truth)
                                   for j in range(cosines.shape[1])]))
