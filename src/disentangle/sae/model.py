"""The top-k sparse autoencoder of O'Neill et al. (2024), after Gao et al. (2024).

Shapes: ``d`` is the embedding dimension, ``n`` the dictionary size, ``k`` the number of
active latents per input. Decoder rows ``W_dec[i]`` are the feature directions and have unit
norm, so a feature's activation is directly its contribution along that direction.

    z  = ReLU(TopK_k(W_enc (x − b_pre) + b_lat))
    x̂ = W_dec^T z + b_pre

Only ``k`` of the ``n`` latents are non-zero per row, so the public API speaks in sparse
codes, ``(values, indices)`` of shape ``[batch, width]`` (``width = k`` here), and never
materialises ``[batch, n]`` latents except in the dense reference path kept as a correctness
oracle.

``SAEConfig.architecture`` picks the paper's top-k (``"topk"``, the default) or one of two
variants built on the same encoder, decoder and losses (``sae/variants.py``):

- ``"batchtopk"`` (Bussmann, Leask & Nanda 2024): training keeps the ``B·k`` largest
  activations of a whole batch, so rows get a variable number of latents; inference keeps
  those above a learned threshold. Its codes are wider than ``k`` and zero-padded.
- ``"matryoshka"`` (Bussmann et al. 2025; Nabeshima 2024): the loss averages the
  reconstruction errors of nested dictionary prefixes ``m_1 < … < m_P = n``, so the first
  latents must reconstruct well alone and become general features. Encoding is top-k.

``TopKSAE`` exposes the few hooks the losses and the trainer call (``select_training``,
``nested_sizes``, ``track_training_code``); the variants override them.
Build a model from its config with ``variants.build_sae``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from disentangle.errors import DisentangleError

ARCHITECTURES = ("topk", "batchtopk", "matryoshka")


@dataclass(frozen=True)
class SAEConfig:
    """Architecture of an SAE. Everything needed to rebuild it from a checkpoint."""

    d: int
    """Input (embedding) dimension."""
    n: int
    """Dictionary size: number of latents / features."""
    k: int
    """Active latents per input (BatchTopK: on average over a batch)."""
    architecture: str = "topk"
    """One of ``ARCHITECTURES``; configs stored before the field existed are top-k."""
    prefixes: tuple[int, ...] | None = None
    """Matryoshka only: nested dictionary sizes ``m_1 < … < m_P = n`` (``n`` is appended if
    missing). Default ``n/16, n/4, n``: a small general level, a middle one, the whole."""

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise DisentangleError(f"unknown SAE architecture {self.architecture!r}; use one of "
                                   f"{', '.join(ARCHITECTURES)}")
        if self.architecture == "matryoshka":
            object.__setattr__(self, "prefixes", _nested_sizes(self.prefixes, self.n))
        elif self.prefixes is not None:
            raise DisentangleError(f"prefixes apply to the matryoshka architecture only, not "
                                   f"{self.architecture}; drop --prefixes or use --arch "
                                   "matryoshka")

    def to_dict(self) -> dict[str, Any]:
        """Fields at their defaults are left out, so a top-k config is still ``{d, n, k}``
        and run directories written before architectures existed compare equal."""
        data: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.default is MISSING or value != field.default:
                data[field.name] = list(value) if isinstance(value, tuple) else value
        return data

    def name(self) -> str:
        """``n{n}-k{k}``, with the architecture appended for the variants (top-k run names
        stay what they always were)."""
        suffix = "" if self.architecture == "topk" else f"-{self.architecture}"
        return f"n{self.n}-k{self.k}{suffix}"


def _nested_sizes(prefixes: Sequence[int] | None, n: int) -> tuple[int, ...]:
    """Validated Matryoshka prefixes ending at ``n`` (JSON gives lists; configs keep tuples)."""
    if prefixes is None:
        return tuple(sorted({max(1, n // 16), max(1, n // 4), n}))
    sizes = [int(m) for m in prefixes]
    if sizes and sizes[-1] < n:
        sizes.append(n)
    if not sizes or sizes[0] < 1 or sizes[-1] != n or any(
            a >= b for a, b in pairwise(sizes)):
        raise DisentangleError(f"matryoshka prefixes {list(prefixes)} must increase strictly "
                               f"from at least 1 up to n={n}; e.g. {n // 16},{n // 4},{n}")
    return tuple(sizes)


def top_k(pre: torch.Tensor, k: int, sorted: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``pre.topk(k, dim=1)``: the same values (ties may pick other indices), faster on CPU.

    torch's CPU top-k walks every entry of every row through a heap. Here the row is cut into
    ``G`` interleaved groups of ``s`` entries; the ``k`` groups with the largest maxima hold
    every entry of the top ``k`` (each of those groups has an entry at least as large as the
    ``k``-th largest group maximum, so the ``k``-th largest entry is too, and no entry of
    another group can exceed it), so one pass for the group maxima, a selection among the
    ``G`` maxima and one among the ``k·s`` entries of the chosen groups replace the top-``k``
    over ``n``; with ``s ≈ √(n/k)`` that is about ``2√(nk)`` entries instead of ``n``. It runs
    as one compiled loop per row (``kernels.top_k_rows``) for float32 on CPU; other dtypes
    and GPUs use ``torch.topk``.
    """
    if pre.is_cuda or pre.dtype != torch.float32 or not 0 < k <= pre.shape[1]:
        return pre.topk(k, dim=1, sorted=sorted)
    from disentangle.sae import kernels  # numba: compiled on first use, CPU only

    values, indices = kernels.top_k(pre, k, _group_size(pre.shape[1], k))
    if sorted:
        values, order = values.sort(dim=1, descending=True)
        indices = indices.gather(1, order)
    return values, indices


def _group_size(n: int, k: int) -> int:
    """The divisor of ``n`` nearest ``√(n/k)`` in ratio, at most ``n/k`` (so there are at least
    ``k`` groups); 1 (no grouping) when ``n < 4k`` or no divisor fits."""
    if n < 4 * k:
        return 1
    target = (n / k) ** 0.5
    sizes = [s for s in range(2, n // k + 1) if n % s == 0]
    return min(sizes, key=lambda s: max(s / target, target / s)) if sizes else 1


class SparseCode(NamedTuple):
    """A batch's sparse code: ``values[b, j]`` is the activation of latent ``indices[b, j]``.

    Values are post-ReLU (so some may be exactly zero; BatchTopK pads its wider codes with
    zeros) and sorted in decreasing order.
    """

    values: torch.Tensor
    indices: torch.Tensor


class TopKSAE(nn.Module):
    """Top-k SAE with a learned pre-bias, tied initialisation and a unit-norm decoder; the
    base of the architecture variants."""

    def __init__(self, config: SAEConfig, *, seed: int | None = None) -> None:
        super().__init__()
        self.config = config
        generator = None
        if seed is not None:
            # Mix the shape into the seed: with the seed alone, SAEs of different sizes would
            # share their first rows at initialisation, which fakes features "persisting"
            # across sizes when they are compared later.
            entropy = [seed, config.d, config.n, config.k]
            if config.architecture != "topk":
                # Nor should variants share their initial rows with top-k (top-k keeps its
                # original seeds, which existing runs were trained from).
                entropy.append(zlib.crc32(config.architecture.encode()))
            mixed = np.random.SeedSequence(entropy)
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

    @torch.no_grad()
    def init_from_sample(self, sample: torch.Tensor) -> float:
        """The recipe's data-dependent init: the median pre-bias, then every encoder row scaled
        by the one gain that makes the initial reconstruction of ``sample`` least-squares best.

        With unit encoder rows the top ``k`` projections overshoot the input (on MiniLM the
        best gain is 0.46–0.79 by n and k), and the first hundreds of steps are spent
        shrinking them; sparsify's ``nn.Linear`` init (rows of norm ~1/√3) starts close to
        that gain by chance and converged faster (docs/benchmarks-training.md). The top-k
        choice does not depend on the gain (``b_lat`` is 0), so it is a closed form:
        ``⟨x − b_pre, x̂⟩ / ⟨x̂, x̂⟩`` over the sample, ``x̂`` decoded at gain 1. Returns the gain.
        """
        self.init_pre_bias(sample)
        centred = sample.to(self.b_pre) - self.b_pre
        code = self.encode(sample.to(self.b_pre))
        decoded = self.decode_directions(code.values, code.indices)
        power = float((decoded * decoded).sum())
        gain = float((centred * decoded).sum()) / power if power > 0 else 1.0
        if gain > 0:
            self.W_enc.mul_(gain)
        return gain

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder pre-activations ``W_enc (x − b_pre) + b_lat``, shape ``[batch, n]``."""
        return torch.addmm(self.b_lat, x - self.b_pre, self.W_enc.t())

    def encode(self, x: torch.Tensor) -> SparseCode:
        """The ``k`` strongest latents of each row, ReLU applied, strongest first."""
        values, indices = top_k(self.pre_activations(x), self.config.k, sorted=True)
        return SparseCode(values.relu(), indices)

    def select_training(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training code's ``(values, indices)``, ``[batch, width]``, from the batch's
        pre-activations, before the ReLU: each row's top ``k``, unsorted."""
        return top_k(pre, self.config.k)

    def nested_sizes(self) -> tuple[int, ...]:
        """Dictionary prefixes whose reconstruction errors the loss averages: just ``n``."""
        return (self.config.n,)

    def track_training_code(self, values: torch.Tensor) -> None:
        """Called by the trainer with each batch's code values; top-k keeps no statistics."""

    def decode(self, values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Reconstruction from a sparse code: a weighted gather of ``k`` decoder rows per input."""
        return self.decode_directions(values, indices) + self.b_pre

    def decode_directions(self, values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """``Σ_j values[j] · W_dec[indices[j]]`` without ``b_pre``: AuxK reconstructs a residual,
        which has no offset. A gather of the code's decoder rows per input, never
        ``[batch, n]`` latents: on CPU one compiled loop that skips zero values
        (``kernels.combine``; BatchTopK's codes are mostly zero padding), on a GPU one
        ``embedding_bag``. ``values`` are post-ReLU: a zero value gets a zero gradient."""
        flat = indices.reshape(-1, indices.shape[-1])
        weights = values.reshape(flat.shape).to(self.W_dec.dtype)
        if flat.is_cuda:
            out = nn.functional.embedding_bag(flat, self.W_dec, per_sample_weights=weights,
                                              mode="sum")
        else:
            from disentangle.sae import kernels  # numba: compiled on first use, CPU only

            out = kernels.combine(weights, flat, self.W_dec)
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
