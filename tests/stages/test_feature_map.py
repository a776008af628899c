"""The feature map: islands of similar decoder directions come out as named clusters."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from disentangle.codes import SparseCodes
from disentangle.families import Family
from disentangle.search import FeatureIndex
from disentangle.stages.feature_map import cluster_names, compute_feature_map

TOPICS = {0: "exoplanet", 1: "galaxy", 2: "neural"}
PER_TOPIC, D = 40, 24


def synthetic():
    """Three tight bundles of decoder directions; each feature fires in documents of its
    bundle's category."""
    rng = np.random.default_rng(0)
    centres = np.linalg.qr(rng.standard_normal((D, 3)))[0].T
    decoder = np.concatenate([c + 0.15 * rng.standard_normal((PER_TOPIC, D)) for c in centres])
    n = len(decoder)
    topic = np.repeat(np.arange(3), PER_TOPIC)
    docs = 600
    doc_topic = np.arange(docs) % 3
    indices = np.stack([rng.choice(np.flatnonzero(topic == t), 4, replace=False)
                        for t in doc_topic]).astype(np.int32)
    values = rng.uniform(0.2, 1.0, (docs, 4)).astype(np.float32)
    codes = SparseCodes(indices, values, n)
    primary = pa.array([["astro-ph.EP", "astro-ph.GA", "cs.LG"][t] for t in doc_topic])
    labels = {f: f"{TOPICS[topic[f]]} {['orbits', 'mass', 'light', 'models'][f % 4]}"
              for f in range(n)}
    return decoder, FeatureIndex(codes), primary, labels, topic


def test_bundles_become_named_clusters_with_their_category():
    decoder, index, primary, labels, topic = synthetic()
    family = Family(id=3, parent=0, children=[1, 2], direct_children=[1, 2], depth=0,
                    iteration=0, density=0.1, label="planets")
    result = compute_feature_map(decoder, index, primary, labels, [None] * len(decoder),
                                 [family])
    assert result["method"] == "umap" and len(result["x"]) == len(decoder)
    assignment = np.array(result["cluster"])
    for c in set(assignment.tolist()):  # a cluster never spans two bundles
        assert len(set(topic[assignment == c].tolist())) == 1
    names = {c["name"] for c in result["clusters"]}
    assert {n.split(" · ")[0] for n in names} == set(TOPICS.values())
    assert result["category"][0] == "astro-ph.EP" and result["category"][-1] == "cs.LG"
    assert result["family"][:3] == [3, 3, 3] and result["family"][3] is None
    assert result["family_labels"] == {"3": "planets"}
    again = compute_feature_map(decoder, index, primary, labels, [None] * len(decoder))
    assert again["x"] == result["x"]  # seeded: the same layout every time


def test_cluster_names_fall_back_to_the_category():
    assignment = np.array([0, 0, 0, 1, 1, -1])
    names = cluster_names(assignment, [None, None, None, "dust grains", "dust lanes", None],
                          ["cs.LG", "cs.LG", "stat.ML", "astro-ph.GA", "astro-ph.GA", None])
    assert names == {0: "cs.LG", 1: "dust"}
