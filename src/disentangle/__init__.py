"""disentangle: sparse autoencoders that make dense text embeddings interpretable and steerable.

Data flows one way: corpus → embed → sae → codes → {interpret, families, search} → cli / app,
all around one on-disk :class:`~disentangle.workspace.Workspace`.
"""

__version__ = "0.1.0"
