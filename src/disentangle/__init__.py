"""disentangle: sparse autoencoders that make dense text embeddings interpretable and steerable.

Data flows one way: corpus → embed → sae → codes → {interpret, families, search} → stages →
cli / app, all around one on-disk :class:`~disentangle.workspace.Workspace`. The Python API
is :mod:`disentangle.api` (one import line for the whole flow).
"""

__version__ = "0.1.0"
