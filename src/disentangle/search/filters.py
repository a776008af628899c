"""Metadata and feature filters, compiled to one boolean mask over corpus rows.

Filtering happens *before* ranking (the index scores only allowed rows), so a strict filter
still returns ``k`` hits whenever ``k`` rows pass it, unlike post-filtering a top-k list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from disentangle.codes import SparseCodes
from disentangle.errors import DisentangleError


@dataclass(frozen=True)
class Filters:
    """What a hit must satisfy. Empty fields filter nothing.

    ``categories`` are prefixes: ``"astro-ph"`` matches ``astro-ph`` and ``astro-ph.GA`` (a
    prefix matches whole dot-separated parts, so ``"cs.L"`` matches nothing); a row passes if
    any of its categories matches any prefix. ``require``/``exclude`` name features (id or
    label) that must be active / inactive in the hit's code.
    """

    year_min: int | None = None
    year_max: int | None = None
    categories: tuple[str, ...] = ()
    require: tuple[int | str, ...] = ()
    exclude: tuple[int | str, ...] = ()

    @classmethod
    def from_cli(
        cls,
        years: str | None = None,
        categories: Sequence[str] = (),
        require: Sequence[int | str] = (),
        exclude: Sequence[int | str] = (),
    ) -> Filters:
        """Build from CLI strings; ``years``: ``2015``, ``2015-2017``, ``2015-`` or ``-2017``."""
        year_min = year_max = None
        if years:
            lo, sep, hi = years.partition("-")
            try:
                year_min = int(lo) if lo.strip() else None
                year_max = (int(hi) if hi.strip() else None) if sep else year_min
            except ValueError:
                raise DisentangleError(
                    f"year range {years!r} is not understood; write e.g. 2015-2017, 2015- or 2015"
                ) from None
        return cls(year_min, year_max, tuple(categories), tuple(require), tuple(exclude))

    @property
    def empty(self) -> bool:
        return (self.year_min is None and self.year_max is None and not self.categories
                and not self.require and not self.exclude)


class FeatureIndex:
    """Inverted index feature -> sorted document rows (the CSC form of the codes).

    Serves feature filters, per-feature statistics and each feature's top documents without
    ever materialising a dense ``documents × n`` matrix.
    """

    def __init__(self, codes: SparseCodes) -> None:
        csc = codes.to_csr().tocsc()
        csc.sort_indices()
        self.matrix: sparse.csc_matrix = csc
        self.n_features = codes.n_features
        self.n_documents = len(codes)
        counts = np.diff(csc.indptr)
        columns = np.repeat(np.arange(self.n_features), counts)
        sums = np.bincount(columns, weights=csc.data, minlength=self.n_features)
        self.density = counts / max(self.n_documents, 1)
        self.mean_activation = np.divide(sums, counts, out=np.zeros(self.n_features),
                                         where=counts > 0).astype(np.float32)
        self.max_activation = np.zeros(self.n_features, np.float32)
        nonempty = counts > 0
        if nonempty.any():
            # Consecutive non-empty column starts delimit exactly one column each.
            self.max_activation[nonempty] = np.maximum.reduceat(
                csc.data, csc.indptr[:-1][nonempty])

    def rows(self, feature: int) -> np.ndarray:
        """Sorted rows where ``feature`` is active."""
        return self.matrix.indices[self.matrix.indptr[feature]:self.matrix.indptr[feature + 1]]

    def activations(self, feature: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, activations) of the documents where ``feature`` is active, by row."""
        lo, hi = self.matrix.indptr[feature], self.matrix.indptr[feature + 1]
        return self.matrix.indices[lo:hi], self.matrix.data[lo:hi]

    def histogram(self, feature: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """(counts, edges) of the feature's non-zero activations, from 0 to its maximum."""
        _, values = self.activations(feature)
        return np.histogram(values, bins=bins,
                            range=(0.0, float(values.max()) if len(values) else 1.0))

    def top_mean(self, count: int) -> np.ndarray:
        """Per feature, the mean activation of its ``count`` strongest documents (0 when it is
        never active): what "as strong as in its typical top documents" means, less sensitive
        to a single outlier than the maximum."""
        out = np.zeros(self.n_features, np.float32)
        for feature in np.flatnonzero(np.diff(self.matrix.indptr)):
            _, values = self.activations(feature)
            if len(values) > count:
                values = np.partition(values, len(values) - count)[-count:]
            out[feature] = values.mean()
        return out

    def top_rows(self, feature: int, count: int) -> np.ndarray:
        """The ``count`` rows with the largest activation of ``feature``, strongest first."""
        lo, hi = self.matrix.indptr[feature], self.matrix.indptr[feature + 1]
        values = self.matrix.data[lo:hi]
        order = np.argsort(-values, kind="stable")[:count]
        return self.matrix.indices[lo:hi][order]


class MetadataIndex:
    """Years and flattened categories of the corpus, kept as arrays for vectorised masks."""

    def __init__(self, corpus: pa.Table) -> None:
        self.n_documents = corpus.num_rows
        year = corpus.column("year").combine_chunks() if "year" in corpus.column_names else None
        if year is None:
            self.year = np.full(self.n_documents, np.iinfo(np.int32).min, np.int64)
        else:
            self.year = pc.fill_null(year.cast(pa.int64()),
                                     np.iinfo(np.int32).min).to_numpy(zero_copy_only=False)
        cats = corpus.column("categories").combine_chunks()
        self.category_parent = pc.list_parent_indices(cats).to_numpy(zero_copy_only=False)
        encoded = pc.list_flatten(cats).dictionary_encode()
        self.category_codes = encoded.indices.to_numpy(zero_copy_only=False)
        self.category_vocab: list[str] = encoded.dictionary.to_pylist()

    def category_mask(self, prefixes: Sequence[str]) -> np.ndarray:
        matched = [code for code, name in enumerate(self.category_vocab)
                   if any(name == p or name.startswith(p.rstrip(".") + ".") for p in prefixes)]
        mask = np.zeros(self.n_documents, bool)
        hits = np.isin(self.category_codes, np.asarray(matched, dtype=self.category_codes.dtype))
        mask[self.category_parent[hits]] = True
        return mask

    def year_mask(self, year_min: int | None, year_max: int | None) -> np.ndarray:
        lo = np.iinfo(np.int32).min + 1 if year_min is None else year_min
        hi = np.iinfo(np.int32).max if year_max is None else year_max
        return (self.year >= lo) & (self.year <= hi)


def build_mask(
    filters: Filters,
    metadata: MetadataIndex,
    features: FeatureIndex,
    require: Sequence[int] = (),
    exclude: Sequence[int] = (),
) -> np.ndarray | None:
    """Rows passing every filter, or ``None`` when nothing is filtered (the fast path).

    ``require``/``exclude`` are the filters' feature names already resolved to ids.
    """
    if filters.empty:
        return None
    mask = np.ones(metadata.n_documents, bool)
    if filters.year_min is not None or filters.year_max is not None:
        mask &= metadata.year_mask(filters.year_min, filters.year_max)
    if filters.categories:
        mask &= metadata.category_mask(filters.categories)
    for feature in require:
        allowed = np.zeros_like(mask)
        allowed[features.rows(feature)] = True
        mask &= allowed
    for feature in exclude:
        mask[features.rows(feature)] = False
    return mask
