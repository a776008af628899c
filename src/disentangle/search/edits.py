"""Edits to a query's features, named by id, by label or by family.

Users think in labels ("exoplanets"), the model in feature ids, so every edit is resolved
against the label table first: exact label, then a substring, then a close spelling. Where a
rule finds several features, the one that is not *secondary* (a duplicate of another's label,
or a mixed feature) wins; anything still ambiguous is an error listing the candidates rather
than a silent guess, since a wrong feature steers the search somewhere the user did not ask
for.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NoReturn, TypeVar

from disentangle.errors import DisentangleError

EditOp = Literal["set", "scale", "add", "remove", "raise"]
OPS: tuple[str, ...] = ("set", "scale", "add", "remove", "raise")
MAX_CANDIDATES = 8
MAX_ID_DIGITS = 9
K = TypeVar("K")


def parse_id(text: str) -> int | None:
    """``text`` as a feature or family id, or None when it is not a number.

    Only ASCII digits count (``str.isdigit`` also accepts "²", which ``int`` rejects), and at
    most ``MAX_ID_DIGITS`` of them (a 5,000-digit id exceeds Python's int-parsing limit)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    if len(text) > MAX_ID_DIGITS:
        raise DisentangleError(f"id {text[:MAX_ID_DIGITS]}… is too large; ids have at most "
                               f"{MAX_ID_DIGITS} digits")
    return int(text)


def parse_target(text: str) -> int | str:
    """A feature or family named by number becomes its id; anything else is a label."""
    ident = parse_id(text)
    return text.strip() if ident is None else ident


@dataclass(frozen=True)
class Edit:
    """One change to a query's sparse code.

    - ``set``: activation := value; ``scale``: activation × value; ``add``: activation + value;
      ``remove``: activation := 0 (``value`` ignored);
    - ``raise``: activation := max(current, value × the feature's typical activation), where
      typical is its mean activation in its strongest documents, so ``value`` is a unit-free
      strength comparable across features (1.0 = as strong as in its typical top documents).

    ``family=True`` makes ``target`` a family (id or label) and applies the edit to every member.
    """

    target: int | str
    op: EditOp
    value: float = 0.0
    family: bool = False

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise DisentangleError(f"unknown edit {self.op!r}; use one of {', '.join(OPS)}")


@dataclass(frozen=True)
class ResolvedEdit:
    """An edit applied to one concrete feature id."""

    feature: int
    op: EditOp
    value: float

    def apply(self, current: float, typical: float) -> float:
        """The edited value of a scalar (an activation, or a projection in clamp mode)."""
        if self.op == "set":
            return self.value
        if self.op == "scale":
            return current * self.value
        if self.op == "add":
            return current + self.value
        if self.op == "raise":
            return max(current, self.value * typical)
        return 0.0

    def weight(self, current: float, typical: float) -> float:
        """The edit's weight in the hybrid score (:mod:`disentangle.search.hybrid`): how much
        more (or less) a document carrying the feature at its typical activation should
        score, in units of the blend. ``raise`` gives +strength (less what the query already
        holds), ``remove`` −1 (whatever the
        query held: "less of X" means documents about X), ``scale`` its factor − 1, and
        ``set``/``add`` the change of the query's activation in typical units."""
        if self.op == "raise":
            return max(0.0, self.value - current / typical)
        if self.op == "remove":
            return -1.0
        if self.op == "scale":
            return self.value - 1.0
        return (self.apply(current, typical) - current) / typical


def up(target: int | str, strength: float = 1.0, family: bool = False) -> Edit:
    """``--up X``: make X at least ``strength`` × its typical activation."""
    return Edit(target, "raise", strength, family)


def down(target: int | str, strength: float = 1.0, family: bool = False) -> Edit:
    """``--down X``: scale X by ``1 − strength`` (the default removes it)."""
    if strength >= 1.0:
        return Edit(target, "remove", 0.0, family)
    return Edit(target, "scale", 1.0 - strength, family)


def parse_edit(text: str, family: bool = False) -> Edit:
    """Parse ``target:value`` forms: ``812:2.5`` sets, ``812:+0.5``/``812:-0.5`` add,
    ``812:x0.5`` scales, ``812:up``/``812:up2`` raise, ``812:0``/``812:off`` remove."""
    target_text, sep, value_text = text.rpartition(":")
    if not sep or not target_text.strip():
        raise DisentangleError(
            f"edit {text!r} is not understood; write FEATURE:VALUE, e.g. 812:2.5 or galaxies:x0.5")
    target = parse_target(target_text)
    value_text = value_text.strip().lower()
    try:
        if value_text in ("off", "remove", "0"):
            return Edit(target, "remove", 0.0, family)
        if value_text.startswith("up"):
            return up(target, float(value_text[2:] or 1.0), family)
        if value_text[:1] in ("x", "*"):
            return Edit(target, "scale", float(value_text[1:]), family)
        if value_text[:1] in ("+", "-"):
            return Edit(target, "add", float(value_text), family)
        return Edit(target, "set", float(value_text), family)
    except ValueError:
        raise DisentangleError(
            f"edit value {value_text!r} in {text!r} is not a number; "
            "use e.g. 2.5, +0.5, x0.5, up2 or off") from None


class FeatureResolver:
    """Resolve feature and family names to ids."""

    def __init__(
        self,
        n_features: int,
        labels: Mapping[int, str] | None = None,
        families: Mapping[int | str, Sequence[int]] | None = None,
        family_labels: Mapping[int | str, str] | None = None,
        secondary: Collection[int] = (),
    ) -> None:
        self.n_features = n_features
        self.labels = dict(labels or {})
        self.secondary = frozenset(int(f) for f in secondary)
        """Features that lose a tie: duplicates of another feature's label, mixed features."""
        self.families = {key: [int(m) for m in members]
                         for key, members in (families or {}).items()}
        self.family_labels = dict(family_labels or {})

    def label(self, feature: int) -> str | None:
        return self.labels.get(feature)

    def feature(self, target: int | str) -> int:
        """A feature id from an id, a numeric string or a label."""
        if isinstance(target, str):
            target = parse_target(target)
        if isinstance(target, int):
            if not 0 <= target < self.n_features:
                raise DisentangleError(
                    f"feature {target} does not exist; ids run from 0 to {self.n_features - 1}")
            return target
        return _match(target, self.labels, "feature",
                      "run `disentangle features find` to search the labels", self.secondary)

    def family(self, target: int | str) -> list[int]:
        """The member features of a family named by id or label."""
        if not self.families:
            raise DisentangleError("no families are loaded; run `disentangle families` first")
        for key in (target, str(target)):
            if key in self.families:
                return self.families[key]
        ident = parse_id(target) if isinstance(target, str) else None
        if ident is not None and ident in self.families:
            return self.families[ident]
        names = {key: self.family_labels.get(key, str(key)) for key in self.families}
        return self.families[_match(str(target), names, "family",
                                    "run `disentangle families` to list them")]

    def resolve(self, edit: Edit) -> list[ResolvedEdit]:
        members = self.family(edit.target) if edit.family else [self.feature(edit.target)]
        return [ResolvedEdit(feature, edit.op, float(edit.value)) for feature in members]


def _match(name: str, labels: Mapping[K, str], kind: str, hint: str,
           secondary: Collection[K] = ()) -> K:
    """Exact label, else a substring, else a close spelling (all compared case- and
    punctuation-insensitively, so "large scale" finds "large-scale structure"); the first
    rule that finds anything decides, and within it a single non-secondary key wins."""
    needle = _normal(name)
    lowered = {key: _normal(label) for key, label in labels.items()}

    def close() -> set[str]:
        return set(difflib.get_close_matches(needle, sorted(set(lowered.values())),
                                             n=MAX_CANDIDATES, cutoff=0.75))

    for rule in (lambda: {needle}, lambda: {label for label in lowered.values()
                                            if needle in label}, close):
        accepted = rule()
        found = [key for key, label in lowered.items() if label in accepted]
        primary = [key for key in found if key not in secondary]
        if len(found) == 1 or len(primary) == 1:
            return found[0] if len(found) == 1 else primary[0]
        if found:
            _ambiguous(name, found, labels, kind)
    raise DisentangleError(f"no {kind} is labelled like {name!r}; {hint}")


def _ambiguous(name: str, found: list[K], labels: Mapping[K, str], kind: str) -> NoReturn:
    listed = "; ".join(f"{key}: {labels[key]}" for key in found[:MAX_CANDIDATES])
    more = f" (+{len(found) - MAX_CANDIDATES} more)" if len(found) > MAX_CANDIDATES else ""
    raise DisentangleError(
        f"{kind} {name!r} is ambiguous ({listed}{more}); give the id or a more exact label")


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())
