"""Steering benchmark on the paper's protocol: feature edits versus rewriting the query text.

For every query of a set (our own, bundled in ``search/queries/``):

- the **lowered** feature is the query's strongest *interpretable* feature (well labelled, see
  ``features.parquet``), the **raised** one is drawn at random (seeded per query) among the
  well-scored features the query lacks: absent from its code and from most of its unsteered top
  10, of moderate density, and mostly active inside the query set's field, so raising it can
  add to the query rather than replace it;
- three operations are measured: ``raise`` (more of R), ``lower`` (less of L) and ``both``
  (the paper's edit: more R, less L);
- methods: ``hybrid`` (the default: steered vector plus feature terms re-ranking the steered
  query's adaptive pool, see :mod:`disentangle.search.hybrid`), ``global`` (an earlier
  default: the terms over the whole corpus at blend :data:`GLOBAL_BLEND`) and ``dense`` (the
  steered vector alone) over a grid of strengths; ``template`` rewrites ("… Focus on R.",
  "… Not about L.", "… Focus on R, not on L.") and an optional ``llm`` rewrite (a chat model,
  or rewrites read from a JSONL file); and both feature methods again at the strength whose
  drift matches each rewrite's (``hybrid@template``, ``dense@llm``, …).

Each retrieval is scored against three ground truths for "the feature is in this document":
its stored code (``codes``), every content word of its label in the title or abstract
(``words``), and the arXiv category where the feature concentrates, when at least
:data:`CONCENTRATION` of its documents share one (``category``; missing otherwise). What the
query should keep is measured by precision@10 of its own category and overlap with the
unsteered top 10, and how close the results stay to the question by ``sim_kept``: the mean
cosine of the top 10 to the *original* query over that of the unsteered top 10 (a relevance
proxy: 1 = as close as plain search). Every number comes from real retrievals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from disentangle.errors import DisentangleError
from disentangle.search.edits import Edit, down, up
from disentangle.search.hybrid import DEFAULT_BLEND, DEFAULT_POOL, PoolRule
from disentangle.search.searcher import Searcher
from disentangle.search.steer import steer

TOP = 10
GLOBAL_BLEND = 0.3
"""Blend of an earlier default, the feature terms over the whole corpus (method ``global``)."""
SEED = 20261202
STRENGTHS = (0.25, 0.5, 1.0, 2.0, 4.0)
DEFAULT_STRENGTH = 1.0
MAX_MATCHED_STRENGTH = 32.0
DENSITY_RANGE = (0.002, 0.05)
"""Raised features are neither rare (unreliable) nor generic (not a topic)."""
IN_FIELD = 0.5
"""A raised feature has at least this share of its documents inside the query set's field."""
CONCENTRATION = 0.5
"""A feature 'has' a category when at least this share of its documents are primarily in it."""
GROUND_TRUTHS = ("codes", "words", "category")
OPERATIONS = ("raise", "lower", "both")
TEMPLATES = {"raise": "{query}. Focus on {raised}.", "lower": "{query}. Not about {lowered}.",
             "both": "{query}. Focus on {raised}, not on {lowered}."}
STOPWORDS = frozenset({"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of",
    "on", "or", "the", "to", "via", "with"})

Rewriter = Callable[[str, str | None, str | None], str]
"""``(query, raise this or None, lower this or None) -> rewritten query`` (e.g. an LLM)."""


def rewrite_instruction(query: str, raised: str | None, lowered: str | None) -> str:
    """The instruction an LLM rewriter follows (quoted in docs/steering.md)."""
    wishes = [f"more about {raised}" if raised else "",
              f"less about {lowered}" if lowered else ""]
    return (f"Rewrite this search query for a search engine over arXiv abstracts so that it "
            f"finds papers {' and '.join(w for w in wishes if w)}, while staying about the "
            f"original question. Reply with the rewritten query only.\n\nQuery: {query}")


def chat_rewriter(complete: Callable[[list[dict[str, str]]], str]) -> Rewriter:
    """A :data:`Rewriter` asking a chat model (``complete(messages) -> answer``) to rewrite the
    query, as the paper's LLM baseline does; the answer's first non-empty line is the query."""

    def rewrite(query: str, raised: str | None, lowered: str | None) -> str:
        answer = complete([{"role": "user",
                            "content": rewrite_instruction(query, raised, lowered)}])
        lines = [line.strip().strip('"') for line in answer.splitlines() if line.strip()]
        return lines[0] if lines else query

    return rewrite


def read_rewrites(path: Path) -> Rewriter:
    """A :data:`Rewriter` that looks rewrites up in a JSONL file of
    ``{"query", "raised", "lowered", "rewrite"}`` lines (``raised``/``lowered`` null when not
    asked), the format :func:`rewrite_record` writes for a chat model's rewrites."""
    table: dict[tuple[str, str | None, str | None], str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DisentangleError(f"cannot read rewrites {path}: {error}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            table[(row["query"], row["raised"], row["lowered"])] = str(row["rewrite"])
        except (ValueError, KeyError, TypeError):
            raise DisentangleError(
                f"{path}:{number} is not a rewrite line like {{\"query\": …, \"raised\": …, "
                f"\"lowered\": …, \"rewrite\": …}}") from None

    def rewrite(query: str, raised: str | None, lowered: str | None) -> str:
        try:
            return table[(query, raised, lowered)]
        except KeyError:
            raise DisentangleError(
                f"{path} has no rewrite of {query!r} (raise {raised!r}, lower {lowered!r}); "
                "write one, or evaluate only the query sets it covers") from None

    return rewrite


def rewrite_record(query: str, raised: str | None, lowered: str | None,
                   rewrite: str) -> dict[str, str | None]:
    """One line of a rewrites file (see :func:`read_rewrites`)."""
    return {"query": query, "raised": raised, "lowered": lowered, "rewrite": rewrite}


@dataclass(frozen=True)
class QuerySet:
    name: str
    queries: tuple[tuple[str, str], ...]
    """``(query, the query's own category)`` pairs."""
    field: tuple[str, ...]
    """Category prefixes of the set's field (raised features are drawn mostly inside it)."""


def load_query_set(name: str) -> QuerySet:
    """A bundled set (``"astro"``, ``"ml"``) or a JSON file of the same shape."""
    if name.endswith(".json"):
        try:
            with open(name, encoding="utf-8") as handle:
                body = json.load(handle)
        except (OSError, ValueError) as error:
            raise DisentangleError(f"cannot read query set {name}: {error}") from None
    else:
        path = resources.files("disentangle.search").joinpath("queries", f"{name}.json")
        if not path.is_file():
            raise DisentangleError(f"no query set {name!r}; use astro, ml or a .json file")
        body = json.loads(path.read_text(encoding="utf-8"))
    try:
        return QuerySet(name, tuple((q["query"], q["category"]) for q in body["queries"]),
                        tuple(body["field"]))
    except (KeyError, TypeError):
        raise DisentangleError(f"query set {name} needs 'field' (category prefixes) and "
                               "'queries' with 'query' and 'category' each") from None


@dataclass(frozen=True)
class Case:
    """One query with the features the protocol edits."""

    query: str
    category: str
    raised: int
    lowered: int


class GroundTruth:
    """Which documents contain a feature, three ways (see the module docstring)."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        corpus = searcher.corpus
        text = pc.binary_join_element_wise(pc.fill_null(corpus.column("title"), ""),
                                           pc.fill_null(corpus.column("abstract"), ""), " ")
        self.text = pc.utf8_lower(text)
        column = "primary_category" if "primary_category" in corpus.column_names else None
        if column is None:
            primary = pc.list_element(corpus.column("categories"), 0)
        else:
            primary = corpus.column(column)
        encoded = pc.fill_null(primary, "").combine_chunks().dictionary_encode()
        self.primary = encoded.indices.to_numpy(zero_copy_only=False)
        self.primary_vocab: list[str] = encoded.dictionary.to_pylist()
        self._word_rows: dict[int, np.ndarray | None] = {}

    def category(self, feature: int) -> int | None:
        """Index of the primary category holding ≥ CONCENTRATION of the feature's documents."""
        rows = self.searcher.features.rows(feature)
        if not len(rows):
            return None
        counts = np.bincount(self.primary[rows], minlength=len(self.primary_vocab))
        best = int(counts.argmax())
        return best if counts[best] >= CONCENTRATION * len(rows) else None

    def words(self, feature: int) -> np.ndarray | None:
        """Boolean ``[documents]``: every content word of the label occurs (a plural 's'
        dropped), or ``None`` for an unlabelled feature."""
        if feature not in self._word_rows:
            label = self.searcher.resolver.label(feature)
            terms = [w.removesuffix("s") for w in re.findall(r"[a-z0-9]+", (label or "").lower())
                     if len(w) >= 3 and w not in STOPWORDS]
            mask = None
            if terms:
                mask = np.ones(len(self.primary), bool)
                for term in terms:
                    mask &= pc.match_substring_regex(self.text, rf"\b{re.escape(term)}").to_numpy(
                        zero_copy_only=False)
            self._word_rows[feature] = mask
        return self._word_rows[feature]

    def presence(self, feature: int, rows: np.ndarray) -> dict[str, float]:
        """Fraction of ``rows`` containing ``feature`` under each ground truth (NaN: n/a)."""
        codes = self.searcher.codes
        active = (codes.indices[rows] == feature) & (codes.values[rows] > 0)
        words = self.words(feature)
        category = self.category(feature)
        return {"codes": float(active.any(axis=1).mean()),
                "words": float("nan") if words is None else float(words[rows].mean()),
                "category": float("nan") if category is None
                else float((self.primary[rows] == category).mean())}


def interpretable_features(features: pa.Table) -> list[int]:
    """The interpretable features of a ``features.parquet`` table (the paper's definition).
    A table without the column never gets here: the workspace's reader names it and the fix."""
    mask = pc.fill_null(features.column("interpretable"), False)
    return sorted(int(f) for f in pc.filter(features.column("feature"), mask).to_pylist())


def draw_cases(searcher: Searcher, query_set: QuerySet, interpretable: Collection[int],
               seed: int = SEED,
               density_range: tuple[float, float] = DENSITY_RANGE) -> list[Case]:
    """The raised and lowered feature of every query (see the module docstring).

    ``interpretable`` are the well-scored features: the raised one is drawn among them, the lowered
    one is the query's strongest of them (its strongest feature if it has none). Queries with
    no candidate to raise are skipped.
    """
    features = searcher.features
    in_field = searcher.metadata.category_mask(query_set.field).astype(np.float64)
    binary = features.matrix.copy()
    binary.data[:] = 1.0
    counts = np.diff(binary.indptr)
    field_share = np.divide(binary.T @ in_field, counts, out=np.zeros(len(counts)),
                            where=counts > 0)
    lo, hi = density_range
    candidates = np.zeros(features.n_features, bool)
    candidates[np.asarray(sorted(interpretable), dtype=np.int64)] = True
    candidates &= (features.density >= lo) & (features.density <= hi)
    candidates &= field_share >= IN_FIELD
    interpretable_set = set(interpretable)
    cases = []
    for position, (text, category) in enumerate(query_set.queries):
        x = searcher.embed(text)
        code = searcher.encode(x)
        rows = searcher.rank(x, TOP)[1]
        codes = searcher.codes
        present = np.bincount(codes.indices[rows][codes.values[rows] > 0],
                              minlength=features.n_features)
        pool = candidates & (present < TOP / 2)
        pool[list(code)] = False
        options = np.flatnonzero(pool)
        ranked = sorted(code, key=lambda f: (f not in interpretable_set, -code[f]))
        if not len(options) or not ranked:
            continue
        rng = np.random.default_rng([seed, position])
        cases.append(Case(text, category, int(rng.choice(options)), ranked[0]))
    return cases


def case_edits(op: str, case: Case, strength: float) -> list[Edit]:
    """The protocol's edits for one operation: up R, down L (at most full removal), or both."""
    raised = [up(case.raised, strength)] if op in ("raise", "both") else []
    lowered = [down(case.lowered, min(strength, 1.0))] if op in ("lower", "both") else []
    return raised + lowered


class _Run:
    """Retrieves and scores one query's variants against its unsteered baseline."""

    def __init__(self, searcher: Searcher, truth: GroundTruth, case: Case) -> None:
        self.searcher, self.truth, self.case = searcher, truth, case
        self.x = searcher.embed(case.query)
        self.code = searcher.encode(self.x)
        self.own = searcher.metadata.category_mask([case.category])
        self.before = searcher.rank(self.x, TOP)[1]
        self.before_sim = float((searcher.embeddings[self.before] @ self.x).mean())

    def vector(self, op: str, strength: float) -> np.ndarray:
        edits = self.searcher.resolve(case_edits(op, self.case, strength))
        s = self.searcher
        return steer(self.x, self.code, edits, s.decoder, s.b_pre, s.typical).vector

    def measure(self, vector: np.ndarray, op: str | None = None, strength: float = 0.0,
                blend: float = 0.0, pool: PoolRule = DEFAULT_POOL) -> dict[str, Any]:
        terms = None
        if op is not None and blend > 0:
            edits = self.searcher.resolve(case_edits(op, self.case, strength))
            terms = self.searcher.terms(edits, self.code, blend)
        rows = self.searcher.rank(vector, TOP, terms=terms, pool=pool)[1]
        similarity = float((self.searcher.embeddings[rows] @ self.x).mean())
        out: dict[str, Any] = {"drift": float(vector @ self.x / np.linalg.norm(vector)),
                               "own_p10": float(self.own[rows].mean()),
                               "overlap": len(set(rows.tolist()) & set(self.before.tolist()))
                               / TOP,
                               "sim_kept": similarity / self.before_sim}
        for role, feature in (("raised", self.case.raised), ("lowered", self.case.lowered)):
            for truth, value in self.truth.presence(feature, rows).items():
                out[f"{role}_{truth}"] = value
        return out

    def matched_strength(self, op: str, drift: float, steps: int = 14) -> float:
        """Strength whose steered drift equals ``drift`` (bisection; drift falls with it).
        Lowering stops at full removal, raising at :data:`MAX_MATCHED_STRENGTH`."""
        lo, hi = 0.0, 1.0 if op == "lower" else MAX_MATCHED_STRENGTH
        for _ in range(steps):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if float(self.vector(op, mid) @ self.x) > drift else (lo, mid)
        return (lo + hi) / 2


def evaluate_steering(
    searcher: Searcher,
    query_set: QuerySet,
    interpretable: Collection[int],
    seed: int = SEED,
    blend: float = DEFAULT_BLEND,
    strengths: Sequence[float] = STRENGTHS,
    llm: Rewriter | None = None,
    density_range: tuple[float, float] = DENSITY_RANGE,
    pool: PoolRule = DEFAULT_POOL,
    rewrites: list[dict[str, str | None]] | None = None,
) -> tuple[pa.Table, list[Case]]:
    """One row per (query, operation, method, strength), with the unsteered values in
    ``*_before`` columns, and the drawn cases. The LLM's rewrites are appended to
    ``rewrites`` (as :func:`rewrite_record` lines) when a list is given."""
    truth = GroundTruth(searcher)
    cases = draw_cases(searcher, query_set, interpretable, seed, density_range)
    records: list[dict[str, Any]] = []
    for case in cases:
        run = _Run(searcher, truth, case)
        before = {f"{k}_before": v for k, v in run.measure(run.x).items()
                  if k not in ("drift", "overlap", "sim_kept")}
        names = {"raised": feature_name(searcher, case.raised),
                 "lowered": feature_name(searcher, case.lowered)}
        base = {"set": query_set.name, "query": case.query, "category": case.category,
                "raised": case.raised, "lowered": case.lowered,
                "raised_label": names["raised"], "lowered_label": names["lowered"], **before}

        def add(op: str, method: str, strength: float | None, measured: dict[str, Any],
                base: dict[str, Any] = base) -> None:
            records.append({**base, "op": op, "method": method, "strength": strength,
                            **measured})

        for op in OPERATIONS:
            for strength in strengths:
                vector = run.vector(op, strength)
                add(op, "dense", strength, run.measure(vector))
                add(op, "hybrid", strength, run.measure(vector, op, strength, blend, pool))
                add(op, "global", strength,
                    run.measure(vector, op, strength, GLOBAL_BLEND, None))
            texts = {"template": TEMPLATES[op].format(query=case.query, **names)}
            if llm is not None:
                asked = (case.query, names["raised"] if op != "lower" else None,
                         names["lowered"] if op != "raise" else None)
                texts["llm"] = llm(*asked)
                if rewrites is not None:
                    rewrites.append(rewrite_record(*asked, texts["llm"]))
            for method, text in texts.items():
                measured = run.measure(searcher.embed(text))
                add(op, method, None, measured)
                matched = run.matched_strength(op, measured["drift"])
                vector = run.vector(op, matched)
                add(op, f"dense@{method}", matched, run.measure(vector))
                add(op, f"hybrid@{method}", matched,
                    run.measure(vector, op, matched, blend, pool))
    return pa.Table.from_pylist(records), cases


def feature_name(searcher: Searcher, feature: int) -> str:
    """A feature's label, or its strongest document's title when unlabelled."""
    return searcher.resolver.label(feature) or searcher.feature_info(feature).top_titles[0]


MEASURES = ("drift", "raised_codes", "raised_words", "raised_category", "lowered_codes",
            "lowered_words", "lowered_category", "own_p10", "overlap", "sim_kept")
UNSTEERED = MEASURES[1:-2]
"""Measures with an unsteered (``*_before``) value."""


def summarise(table: pa.Table) -> list[dict[str, Any]]:
    """Means per (set, operation, method, strength), plus the unsteered means (method
    ``none``) and the own-category precision kept (``own_kept`` = after / before). Matched
    methods (``…@template``) have one strength per query; their row shows the mean."""
    rows = table.to_pylist()
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        strength = None if "@" in row["method"] else row["strength"]  # matched: per query
        groups.setdefault((row["set"], row["op"], row["method"], strength), []).append(row)
    out = []
    for (set_name, op, method, strength), members in groups.items():
        entry: dict[str, Any] = {"set": set_name, "op": op, "method": method,
                                 "strength": strength, "queries": len(members)}
        if "@" in method:
            entry["strength"] = _mean([m["strength"] for m in members])
        for key in MEASURES:
            entry[key] = _mean([m[key] for m in members])
        before = _mean([m["own_p10_before"] for m in members])
        entry["own_kept"] = entry["own_p10"] / before if before else float("nan")
        out.append(entry)
    for set_name, op in dict.fromkeys((r["set"], r["op"]) for r in rows):
        members = [r for r in rows if r["set"] == set_name and r["op"] == op
                   and r["method"] == "template"]
        entry = {"set": set_name, "op": op, "method": "none", "strength": 0.0,
                 "queries": len(members), "drift": 1.0, "overlap": 1.0, "own_kept": 1.0,
                 "sim_kept": 1.0}
        for key in UNSTEERED:
            entry[key] = _mean([m[f"{key}_before"] for m in members])
        out.append(entry)
    order = {"none": 0, "dense": 1, "global": 2, "hybrid": 3, "template": 4,
             "dense@template": 5, "hybrid@template": 6, "llm": 7, "dense@llm": 8,
             "hybrid@llm": 9}
    return sorted(out, key=lambda e: (e["set"], OPERATIONS.index(e["op"]),
                                      order.get(e["method"], 9), e["strength"] or 0.0))


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summary_markdown(summary: Sequence[dict[str, Any]]) -> str:
    """One markdown row per set/operation/method/strength."""
    columns = ["queries", *MEASURES, "own_kept"]
    lines = ["| set | op | method | strength | " + " | ".join(columns) + " |",
             "| --- | --- | --- | --- | " + " | ".join("---" for _ in columns) + " |"]
    for entry in summary:
        cells = [str(entry[c]) if c == "queries" else _cell(entry.get(c)) for c in columns]
        strength = "" if entry["strength"] is None else f"{entry['strength']:.2f}"
        lines.append(f"| {entry['set']} | {entry['op']} | {entry['method']} | {strength} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


def targets(summary: Sequence[dict[str, Any]],
            strength: float = DEFAULT_STRENGTH) -> list[dict[str, Any]]:
    """The issue's targets per set, checked on the summary: at the default strength the
    hybrid raise puts R in ≥ 40% of the top 10 (stored codes) keeping ≥ 80% of own-category
    precision; the combined edit (``both``) at the default, with how much of the question it
    keeps (sim kept, overlap) and whether it beats each rewrite on raised and lowered
    presence; at each rewrite's drift feature edits beat the rewrite on both presences."""
    out = []
    for set_name in dict.fromkeys(e["set"] for e in summary):
        pick = {(e["op"], e["method"], e["strength"]): e for e in summary if e["set"] == set_name}
        default = pick.get(("raise", "hybrid", strength))
        both = {method: e for (op, method, s), e in pick.items()
                if op == "both" and (s == strength or method != "hybrid")}
        entry: dict[str, Any] = {"set": set_name}
        if default:
            entry["raised_at_default"] = default["raised_codes"]
            entry["own_kept_at_default"] = default["own_kept"]
            entry["sim_kept_at_default"] = default["sim_kept"]
            entry["default_met"] = bool(default["raised_codes"] >= 0.4
                                        and default["own_kept"] >= 0.8)
        if "hybrid" in both:
            edit = both["hybrid"]
            for key in ("raised_codes", "lowered_codes", "overlap", "sim_kept"):
                entry[f"both_{key}_at_default"] = edit[key]
        for rewrite in ("template", "llm"):
            if rewrite not in both:
                continue
            text = both[rewrite]
            for method in ("hybrid", f"hybrid@{rewrite}", f"dense@{rewrite}"):
                if method in both:
                    edit = both[method]
                    name = "both_default" if method == "hybrid" else method
                    entry[f"{name}_beats_{rewrite}"] = bool(
                        edit["raised_codes"] > text["raised_codes"]
                        and edit["lowered_codes"] < text["lowered_codes"])
        out.append(entry)
    return out


def targets_markdown(checks: Sequence[dict[str, Any]]) -> str:
    """The targets as a table, one row per target and a column per set: what
    ``eval steering`` prints last."""
    keys = list(dict.fromkeys(key for entry in checks for key in entry if key != "set"))
    lines = ["| target | " + " | ".join(str(e["set"]) for e in checks) + " |",
             "| --- | " + " | ".join("---" for _ in checks) + " |"]
    for key in keys:
        cells = [("yes" if value else "no") if isinstance(value := entry.get(key), bool)
                 else _cell(value) for entry in checks]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
