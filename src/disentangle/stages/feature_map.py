"""The feature map: a 2-D UMAP layout of an SAE's decoder directions, with named clusters.

Features that write similar directions into the embedding land close together. A linear
projection (PCA) of 3,000 nearly orthogonal unit vectors is one round blob, and so is UMAP of
the decoder rows alone (top-k decoder rows are close to orthogonal, so their cosine
neighbourhoods are noise; seen on the demo SAE). Each feature is therefore placed by its
decoder direction *and* the mean embedding of its strongest documents (both unit vectors,
side by side): what it writes and what it reads, in the same embedding space. UMAP of that
separates fields and subfields into islands. Each feature carries what a
reader needs to colour and search the map: its label (or top title), its top family, and the
arXiv category most of its strongest documents share. Regions are found by Ward clustering of
the layout and named by the words their members' labels share most distinctively.

UMAP takes tens of seconds (plus numba's one-off compilation), so the map is computed once per
SAE by ``disentangle map`` (or on the first ``disentangle serve``) and cached beside it
(``SAEFolder.feature_map_path``), with the hashes of everything it was computed from; a stale
cache is recomputed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from disentangle.families import Family
from disentangle.families.neighbours import nest_families, top_family_of
from disentangle.io import read_json, write_json
from disentangle.search import FeatureIndex
from disentangle.stages.readers import codes, families, file_hash, open_sae
from disentangle.workspace import SAEFolder, Workspace

MAP_VERSION = 3
SEED = 0
NEIGHBOURS = 15
MIN_DIST = 0.05
TOP_DOCUMENTS = 20
"""A feature's category is the primary category most of its this many strongest documents share."""
CLUSTER_WORDS = 3
STOPWORDS = frozenset({"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of",
    "on", "or", "the", "to", "via", "with", "using", "based", "mixed"})


def layout(decoder: np.ndarray, seed: int = SEED) -> np.ndarray:
    """``[n, 2]`` UMAP coordinates of the rows (cosine metric, fixed seed)."""
    import umap  # deferred: importing it compiles numba code (seconds), needed only here

    n = decoder.shape[0]
    if n < 4:
        return np.zeros((n, 2), np.float32)
    reducer = umap.UMAP(n_neighbors=min(NEIGHBOURS, n - 1), min_dist=MIN_DIST, metric="cosine",
                        random_state=seed, n_jobs=1,
                        init="spectral" if n > NEIGHBOURS + 1 else "random")
    return reducer.fit_transform(np.asarray(decoder, np.float32)).astype(np.float32)


def clusters(xy: np.ndarray) -> np.ndarray:
    """Cluster id per point: Ward clustering of the 2-D layout into about √n / 2 regions (at
    most one per 40 features), so every part of the map gets a name."""
    from sklearn.cluster import AgglomerativeClustering

    n = len(xy)
    count = max(2, min(n // 40, round(math.sqrt(n) / 2)))
    if n < 4:
        return np.full(n, -1, np.int64)
    return AgglomerativeClustering(n_clusters=count, linkage="ward").fit_predict(xy).astype(
        np.int64)


def _words(label: str | None) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9-]+", (label or "").lower())
            if len(w) > 2 and w not in STOPWORDS}


def cluster_names(assignment: np.ndarray, labels: Sequence[str | None],
                  categories: Sequence[str | None]) -> dict[int, str]:
    """Each cluster's name: the label words most distinctive of its members (tf × idf over
    clusters), else its most common category."""
    ids = sorted(set(assignment.tolist()) - {-1})
    counts = {c: Counter(w for f in np.flatnonzero(assignment == c) for w in _words(labels[f]))
              for c in ids}
    spread = Counter(w for c in ids for w in counts[c])
    names = {}
    for c in ids:
        members = np.flatnonzero(assignment == c)
        scored = sorted(counts[c].items(),  # frequent in the cluster, rare elsewhere
                        key=lambda item: (-item[1] * math.log(1 + len(ids) / spread[item[0]]),
                                          item[0]))
        words = [w for w, n in scored if n >= 2][:CLUSTER_WORDS]
        if not words:
            common = Counter(categories[f] for f in members if categories[f]).most_common(1)
            words = [common[0][0]] if common else [f"cluster {c}"]
        names[c] = " · ".join(words)
    return names


def top_categories(index: FeatureIndex, primary: pa.Array) -> tuple[list[str | None], np.ndarray]:
    """Per feature, the primary category most of its strongest documents share, and the share."""
    encoded = primary.dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    vocab = encoded.dictionary.to_pylist()
    names: list[str | None] = []
    shares = np.zeros(index.n_features, np.float32)
    for feature in range(index.n_features):
        rows = index.top_rows(feature, TOP_DOCUMENTS)
        if not len(rows):
            names.append(None)
            continue
        counts = np.bincount(codes[rows], minlength=len(vocab))
        names.append(vocab[int(counts.argmax())])
        shares[feature] = counts.max() / len(rows)
    return names, shares


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def document_centroids(index: FeatureIndex, embeddings: np.ndarray) -> np.ndarray:
    """Per feature, the unit mean embedding of its strongest documents (0 if never active)."""
    out = np.zeros((index.n_features, embeddings.shape[1]), np.float32)
    for feature in range(index.n_features):
        rows = np.sort(index.top_rows(feature, TOP_DOCUMENTS))
        if len(rows):
            out[feature] = np.asarray(embeddings[rows], np.float32).mean(axis=0)
    return _unit(out)


def compute_feature_map(decoder: np.ndarray, index: FeatureIndex, primary: pa.Array,
                        labels: Mapping[int, str] | None, hints: Sequence[str | None],
                        family_list: Sequence[Family] = (), seed: int = SEED,
                        centroids: np.ndarray | None = None) -> dict[str, Any]:
    """The map as plain JSON-ready data (one list entry per feature, plus the clusters).
    ``centroids`` (see :func:`document_centroids`) join the decoder rows when given."""
    n = decoder.shape[0]
    unit = _unit(decoder)
    xy = layout(unit if centroids is None else np.concatenate([unit, centroids], axis=1), seed)
    names = [(labels or {}).get(f) or hints[f] for f in range(n)]
    categories, shares = top_categories(index, primary)
    assignment = clusters(xy)
    cluster_label = cluster_names(assignment, names, categories)
    family = top_family_of(family_list, nest_families(family_list))
    family_label = {f.id: f.label for f in family_list}
    return {
        "method": "umap", "seed": seed,
        "space": "decoder" if centroids is None else "decoder + top-document centroid",
        "n_neighbors": min(NEIGHBOURS, max(n - 1, 1)),
        "x": np.round(xy[:, 0], 4).tolist(), "y": np.round(xy[:, 1], 4).tolist(),
        "density": index.density.round(6).tolist(),
        "label": names, "labelled": bool(labels),
        "family": [family.get(f) for f in range(n)],
        "family_labels": {str(k): v for k, v in family_label.items() if v},
        "category": categories, "category_share": shares.round(3).tolist(),
        "cluster": assignment.tolist(),
        "clusters": [{"cluster": c, "name": cluster_label[c],
                      "size": int((assignment == c).sum()),
                      "x": float(np.median(xy[assignment == c, 0])),
                      "y": float(np.median(xy[assignment == c, 1]))}
                     for c in sorted(cluster_label)],
    }


def _sources(workspace: Workspace, folder: SAEFolder) -> dict[str, Any]:
    """What the map depends on: the model, the corpus, labels and families."""
    def digest(path: Path) -> str | None:
        return file_hash(path) if path.exists() else None

    return {"version": MAP_VERSION, "corpus": workspace.corpus_hash(),
            "model": digest(folder.weights_path), "labels": digest(folder.features_path),
            "families": digest(folder.families_path)}


def cached_map(workspace: Workspace, name: str) -> dict[str, Any] | None:
    """The cached map of SAE ``name`` when it is up to date, else ``None``."""
    folder = workspace.sae_folder(name)
    if not folder.feature_map_path.exists():
        return None
    cached = read_json(folder.feature_map_path)
    return cached if cached.get("sources") == _sources(workspace, folder) else None


def build_feature_map(workspace: Workspace, name: str, index: FeatureIndex | None = None,
                  hints: Sequence[str | None] | None = None, save: bool = True,
                  seed: int = SEED) -> dict[str, Any]:
    """The map of SAE ``name``: the cached one when fresh, else computed (and, with ``save``,
    written atomically beside the SAE; the web app passes ``save=False``, it never writes)."""
    cached = cached_map(workspace, name)
    if cached is not None:
        return cached
    _, sae, _ = open_sae(workspace, name)
    folder = workspace.sae_folder(name)
    if index is None:
        index = FeatureIndex(codes(workspace, name))
    corpus = workspace.corpus()
    if hints is None:
        tops = [index.top_rows(f, 1) for f in range(index.n_features)]
        rows = np.concatenate(tops).astype(np.int64)
        titles = iter(corpus.column("title").take(pa.array(rows)).to_pylist())
        hints = [next(titles) if len(top) else None for top in tops]
    column = "primary_category" if "primary_category" in corpus.column_names else None
    primary = (corpus.column(column) if column else
               pc.list_element(corpus.column("categories"), 0)).combine_chunks()
    result = compute_feature_map(sae.W_dec.detach().cpu().float().numpy(), index,
                                 pc.fill_null(primary, ""),
                                 folder.labels(), hints, families(workspace, name), seed,
                                 document_centroids(index, workspace.embeddings()))
    result["sources"] = _sources(workspace, folder)
    if save:
        write_json(folder.feature_map_path, result)
    return result
