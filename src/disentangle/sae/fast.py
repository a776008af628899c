"""Top-k encoder whose backward pass touches only the selected latents.

Autograd through ``topk`` of dense ``[batch, n]`` pre-activations would build a dense
``[batch, n]`` gradient and multiply it by ``x`` (as costly as the forward matmul), though only
``k`` (plus ``k_aux``) entries per row are non-zero. Here the backward builds that gradient as
a sparse CSR matrix of latents × rows and multiplies it by the centred input instead. (The
per-row width is the model's ``selection_width()``: ``k``, or BatchTopK's ``c`` candidates,
of which those the batch selection drops get a zero gradient.)

The same forward also selects the AuxK latents (top ``k_aux`` among dead ones) from the one
pre-activation matrix, so AuxK costs a masked ``topk`` and no second matmul.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from disentangle.sae.model import TopKSAE
from disentangle.threads import single_threaded


def encoder_matmul(
    x_centered: torch.Tensor, w_enc: torch.Tensor, b_lat: torch.Tensor
) -> torch.Tensor:
    """``x_centered @ W_encᵀ + b_lat`` in the weights' dtype; bf16 autocast on CUDA only
    (about 2× there; CPU bf16 matmuls are slow). Shared with the dense reference so both
    select the same latents."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=x_centered.is_cuda):
        return torch.addmm(b_lat, x_centered, w_enc.t()).to(w_enc.dtype)


def select(
    pre: torch.Tensor, k: int, dead_mask: torch.Tensor | None, k_aux: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-``k`` pre-activations (unsorted) and top-``k_aux`` among dead latents (others −inf).

    Without a dead mask the AuxK part is empty (``[batch, 0]``). If fewer than ``k_aux``
    latents are dead, the surplus picks are −inf and contribute 0 after ReLU.
    """
    values, indices = pre.topk(k, dim=1, sorted=False)
    if dead_mask is None:
        return values, indices, pre[:, :0], indices[:, :0]
    aux_values, aux_indices = pre.masked_fill(~dead_mask, float("-inf")).topk(
        k_aux, dim=1, sorted=False
    )
    return values, indices, aux_values, aux_indices


def _argsort_indices(flat: torch.Tensor) -> torch.Tensor:
    """Stable argsort of a batch's latent indices. On CPU it runs single-threaded: torch's
    parallel sort synchronises its threads many times, and on a busy 2-core machine that took
    ~550 ms for 65k indices against ~1 ms on one thread (measured, benchmarks/train_speed.py)."""
    if flat.is_cuda:
        return flat.argsort(stable=True)
    with single_threaded():
        return flat.argsort(stable=True)


def _thread_invariant_vecmat(vector: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """``vector @ matrix`` with the same bits at every CPU thread count: the parallel
    matrix-vector product splits its sums by thread, so a step's result would depend on the
    count ``threads.ThreadChooser`` picks. One thread costs little here (one pass over the
    matrix, against the step's several)."""
    if vector.is_cuda:
        return vector @ matrix
    with single_threaded():
        return vector @ matrix


def _latent_by_row(indices: torch.Tensor, weights: torch.Tensor, n: int) -> torch.Tensor:
    """The sparse ``[n, batch]`` matrix ``G[indices[b, j], b] = weights[b, j]`` in CSR form
    (duplicate entries are summed by the product)."""
    batch, width = indices.shape
    flat = indices.reshape(-1)
    order = _argsort_indices(flat)
    crow = torch.zeros(n + 1, dtype=torch.long, device=indices.device)
    crow[1:] = torch.bincount(flat, minlength=n).cumsum(0)
    with warnings.catch_warnings():  # "CSR support is in beta": the product we use is stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            crow, torch.div(order, width, rounding_mode="floor"), weights.reshape(-1)[order],
            (n, batch), check_invariants=False,
        )


class _SparseTopKEncode(torch.autograd.Function):
    """Forward: pre-activations and the top-k / AuxK selections. Backward: gradients for
    ``W_enc``, ``b_lat`` and ``b_pre`` from the selected entries only; none for ``x`` (data)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        w_enc: torch.Tensor,
        b_lat: torch.Tensor,
        b_pre: torch.Tensor,
        k: int,
        dead_mask: torch.Tensor | None,
        k_aux: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x_centered = x - b_pre
        values, indices, aux_values, aux_indices = select(
            encoder_matmul(x_centered, w_enc, b_lat), k, dead_mask, k_aux
        )
        ctx.save_for_backward(x_centered, w_enc, indices, aux_indices)
        ctx.mark_non_differentiable(indices, aux_indices)
        return values, indices, aux_values, aux_indices

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any,
        grad_values: torch.Tensor,
        _grad_indices: torch.Tensor,
        grad_aux_values: torch.Tensor,
        _grad_aux_indices: torch.Tensor,
    ) -> tuple[torch.Tensor | None, ...]:
        x_centered, w_enc, indices, aux_indices = ctx.saved_tensors
        n = w_enc.shape[0]
        picked = torch.cat([indices, aux_indices], dim=1)
        grads = torch.cat([grad_values, grad_aux_values], dim=1).to(w_enc.dtype)
        grad_b_lat = torch.zeros(n, dtype=w_enc.dtype, device=w_enc.device)
        grad_b_lat.index_add_(0, picked.reshape(-1), grads.reshape(-1))
        grad_w_enc = _latent_by_row(picked, grads, n) @ x_centered
        # ∂/∂b_pre of Σ_b Σ_j g[b,j]·(W_enc[i_bj] · (x_b − b_pre)) = −Σ_i grad_b_lat[i]·W_enc[i]
        grad_b_pre = -_thread_invariant_vecmat(grad_b_lat, w_enc)
        return None, grad_w_enc, grad_b_lat, grad_b_pre, None, None, None


def sparse_topk_encode(
    sae: TopKSAE, x: torch.Tensor, dead_mask: torch.Tensor | None = None, k_aux: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(values, indices, aux_values, aux_indices)``: pre-ReLU, unsorted selections of the
    top ``sae.selection_width()`` latents (``k`` for top-k) and of the top ``k_aux`` dead
    latents, with a sparse backward.

    ``x`` is treated as data: it receives no gradient.
    """
    return _SparseTopKEncode.apply(
        x, sae.W_enc, sae.b_lat, sae.b_pre, sae.selection_width(), dead_mask, k_aux
    )

