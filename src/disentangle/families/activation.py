"""When a document "has" a family: any member feature active (the paper's family scoring)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from disentangle.codes import SparseCodes
from disentangle.families.extract import Family


def family_membership(families: Sequence[Family], n_features: int) -> sparse.csr_matrix:
    """``[n_features, families]`` 0/1 matrix: feature i is a member (parent or child) of f."""
    cols = np.concatenate([np.full(len(f.members), j) for j, f in enumerate(families)] or [[]])
    rows = np.concatenate([f.members for f in families] or [[]])
    return sparse.csr_matrix((np.ones(len(rows), np.float32), (rows.astype(np.int64),
                                                                cols.astype(np.int64))),
                             shape=(n_features, len(families)))


def family_activations(codes: SparseCodes, families: Sequence[Family]) -> sparse.csr_matrix:
    """``[documents, families]``: nonzero exactly where some member is active; the value is
    the summed member activation, so the top-activating documents can be sampled as for a
    single feature."""
    return (codes.to_csr() @ family_membership(families, codes.n_features)).tocsr()
