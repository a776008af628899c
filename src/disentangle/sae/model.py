"""The top-k sparse autoencoder of O'Neill et al. (2024), after Gao et al. (2024).

Shapes: ``d`` is the embedding dimension, ``n`` the dictionary size, ``k`` the number of
active latents per input. Decoder rows ``W_dec[i]`` are the feature directions and have unit
norm, so a feature's activation is directly its contribution along that direction.

    z  = ReLU(TopK_k(W_enc (x − b_pre) + b_lat))
    x̂ = W_dec^T z + b_pre

Only ``k`` of the ``n`` latents are non-zero per row, so the public API speaks in sparse
codes, ``(values, indices)`` of shape ``[batch, k]``, and never materialises ``[batch, n]``
latents except in the dense reference path kept as a correctness oracle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class SAEConfig:
    """Architecture of a top-k SAE. Everything needed to rebuild it from a checkpoint."""

    d: int
    """Input (embedding) dimension."""
    n: int
    """Dictionary size: number of latents / features."""
    k: int
    """Active latents per input."""

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class SparseCode(NamedTuple):
    """Top-k latents of a batch: ``values[b, j]`` is the activation of latent ``indices[b, j]``.

    Values are post-ReLU (so some may be exactly zero) and sorted in decreasing order.
    """

    values: torch.Tensor
    indices: torch.Tensor


class TopKSAE(nn.Module):
    """Top-k SAE with a learned pre-bias, tied initialisation and a unit-norm decoder."""

    def __init__(self, config: SAEConfig, *, seed: int | None = None) -> None:
        super().__init__()
        self.config = config
        generator = None
        if seed is not None:
            # Mix the shape into the seed: with the seed alone, SAEs of different sizes would
            # share their first rows at initialisation, which fakes features "persisting"
            # across sizes when they are compared later.
            mixed = np.random.SeedSequence([seed, config.d, config.n, config.k])
            generator = torch.Generator().manual_seed(int(mixed.generate_state(1)[0]))
        w_dec = torch.empty(config.n, config.d)
        bound = (6.0 / (config.n + config.d)) ** 0.5  # Xavier-uniform
        w_dec.uniform_(-bound, bound, generator=generator)
        w_dec /= w_dec.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(w_dec)
        self.W_enc = nn.Parameter(w_dec.clone())  # tied init: W_enc = W_dec^T in math notation
        self.b_lat = nn.Parameter(torch.zeros(config.n))
        self.b_pre = nn.Parameter(torch.zeros(config.d))

    @torch.no_grad()
    def init_pre_bias(self, sample: torch.Tensor) -> None:
        """Set ``b_pre`` to the coordinate-wise median of a data sample (the paper uses 10k)."""
        self.b_pre.copy_(sample.to(self.b_pre).median(dim=0).values)

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder pre-activations ``W_enc (x − b_pre) + b_lat``, shape ``[batch, n]``."""
        return torch.addmm(self.b_lat, x - self.b_pre, self.W_enc.t())

    def encode(self, x: torch.Tensor) -> SparseCode:
        """The ``k`` strongest latents of each row, ReLU applied, strongest first."""
        values, indices = self.pre_activations(x).topk(self.config.k, dim=1, sorted=True)
        return SparseCode(values.relu(), indices)

    def decode(self, values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Reconstruction from a sparse code: a weighted gather of ``k`` decoder rows per input."""
        return self.decode_directions(values, indices) + self.b_pre

    def decode_directions(self, values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """``Σ_j values[j] · W_dec[indices[j]]`` without ``b_pre``: AuxK reconstructs a residual,
        which has no offset. One ``embedding_bag`` gather, never ``[batch, n]`` latents."""
        flat = indices.reshape(-1, indices.shape[-1])
        out = nn.functional.embedding_bag(
            flat, self.W_dec, per_sample_weights=values.reshape(flat.shape).to(self.W_dec.dtype),
            mode="sum",
        )
        return out.reshape(*indices.shape[:-1], self.config.d)

    def decode_dense(self, latents: torch.Tensor) -> torch.Tensor:
        """Reconstruction from dense ``[batch, n]`` latents (reference path and steering)."""
        return latents @ self.W_dec + self.b_pre

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` (inference); training uses the trainer's loss functions."""
        code = self.encode(x)
        return self.decode(code.values, code.indices)

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Rescale every decoder row to unit norm (called after each optimiser step)."""
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12)

    @torch.no_grad()
    def remove_parallel_decoder_grad(self) -> None:
        """Project out of each decoder row's gradient its component along the row itself,
        so the optimiser step cannot change a row's norm to first order."""
        if self.W_dec.grad is None:
            return
        # vecdot + in-place addcmul_: no [n, d] temporaries (this runs every step).
        parallel = torch.linalg.vecdot(self.W_dec.grad, self.W_dec).unsqueeze(1)
        self.W_dec.grad.addcmul_(parallel, self.W_dec, value=-1)
