"""Top-k encoder whose backward pass touches only the selected latents.

Autograd through ``topk`` of dense ``[batch, n]`` pre-activations would build a dense
``[batch, n]`` gradient and multiply it by ``x`` (as costly as the forward matmul), though only
``k`` (plus ``k_aux``) entries per row are non-zero. Here the backward adds each selected
entry's gradient times its centred input row into its latent's weight-gradient row instead: a
compiled scatter on CPU (``kernels.scatter``), a CSR product on a GPU. (The per-row width is
that of the model's ``select_training``: ``k``, or BatchTopK's ``w ≤ c``, whose zero padding
gets a zero gradient.)

The same forward also selects the AuxK latents (top ``k_aux`` among dead ones) from the one
pre-activation matrix, so AuxK costs a masked ``topk`` and no second matmul.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

from disentangle.sae.model import TopKSAE, top_k
from disentangle.threads import single_threaded


def encoder_matmul(
    x_centered: torch.Tensor, w_enc: torch.Tensor, b_lat: torch.Tensor
) -> torch.Tensor:
    """``x_centered @ W_encᵀ + b_lat`` in the weights' dtype; bf16 autocast on CUDA only
    (about 2× there; CPU bf16 matmuls are slow). Shared with the dense reference so both
    select the same latents."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=x_centered.is_cuda):
        return torch.addmm(b_lat, x_centered, w_enc.t()).to(w_enc.dtype)


Selection = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""The model's training selection (``TopKSAE.select_training``): pre-activations → code."""


def select(
    pre: torch.Tensor, choose: Selection, dead_mask: torch.Tensor | None, k_aux: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The code ``choose`` selects (top-``k`` pre-activations, unsorted, for top-k) and the
    top ``k_aux`` among dead latents (others −inf).

    Without a dead mask the AuxK part is empty (``[batch, 0]``). If fewer than ``k_aux``
    latents are dead, the surplus picks are −inf and contribute 0 after ReLU.
    """
    values, indices = choose(pre)
    if dead_mask is None:
        return values, indices, pre[:, :0], indices[:, :0]
    aux_values, aux_indices = _top_dead(pre, dead_mask, k_aux)
    return values, indices, aux_values, aux_indices


def _top_dead(
    pre: torch.Tensor, dead_mask: torch.Tensor, k_aux: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``k_aux`` pre-activations among dead latents; surplus picks are distinct live
    latents at −inf. On CPU only the dead columns are searched (usually a few percent of
    ``n``) instead of a masked copy of all of ``pre``; on a GPU, listing the dead latents
    would need a host sync, so there the masked copy stays."""
    if pre.is_cuda:
        return top_k(pre.masked_fill(~dead_mask, float("-inf")), k_aux)
    dead = dead_mask.nonzero().squeeze(1)
    if len(dead) >= k_aux:
        values, picked = top_k(pre.index_select(1, dead), k_aux)
        return values, dead[picked]
    live = (~dead_mask).nonzero().squeeze(1)[: k_aux - len(dead)]
    batch = pre.shape[0]
    values = torch.cat([pre.index_select(1, dead),
                        pre.new_full((batch, len(live)), float("-inf"))], dim=1)
    return values, torch.cat([dead, live]).expand(batch, -1).contiguous()


def _thread_invariant_vecmat(vector: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """``vector @ matrix`` with the same bits at every CPU thread count: the parallel
    matrix-vector product splits its sums by thread, so a step's result would depend on the
    count ``threads.ThreadChooser`` picks. One thread costs little here (one pass over the
    matrix, against the step's several)."""
    if vector.is_cuda:
        return vector @ matrix
    with single_threaded():
        return vector @ matrix


def _weight_gradient(picked: torch.Tensor, grads: torch.Tensor, x_centered: torch.Tensor,
                     n: int) -> torch.Tensor:
    """``G @ x_centered`` for the sparse ``[n, batch]`` matrix ``G[picked[b, j], b] =
    grads[b, j]`` (repeated latents summed). On CPU one compiled scatter of the entries with a
    non-zero gradient (``kernels.scatter``: one thread, a fixed order); on a GPU a CSR product,
    every entry kept (filtering would need a host sync)."""
    if not picked.is_cuda:
        from disentangle.sae import kernels  # numba: compiled on first use, CPU only

        out = x_centered.new_zeros(n, x_centered.shape[1])
        kernels.scatter(grads, picked, x_centered, out)
        return out
    batch, width = picked.shape
    latents = picked.reshape(-1)
    order = latents.argsort(stable=True)
    rows = torch.arange(batch, device=picked.device).repeat_interleave(width)
    crow = torch.zeros(n + 1, dtype=torch.long, device=picked.device)
    crow[1:] = torch.bincount(latents, minlength=n).cumsum(0)
    with warnings.catch_warnings():  # "CSR support is in beta": the product we use is stable
        warnings.simplefilter("ignore", UserWarning)
        matrix = torch.sparse_csr_tensor(crow, rows[order], grads.reshape(-1)[order],
                                         (n, batch), check_invariants=False)
    return matrix @ x_centered


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
        choose: Selection,
        dead_mask: torch.Tensor | None,
        k_aux: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x_centered = x - b_pre
        values, indices, aux_values, aux_indices = select(
            encoder_matmul(x_centered, w_enc, b_lat), choose, dead_mask, k_aux
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
        grad_w_enc = _weight_gradient(picked, grads, x_centered, n)
        # ∂/∂b_pre of Σ_b Σ_j g[b,j]·(W_enc[i_bj] · (x_b − b_pre)) = −Σ_i grad_b_lat[i]·W_enc[i]
        grad_b_pre = -_thread_invariant_vecmat(grad_b_lat, w_enc)
        return None, grad_w_enc, grad_b_lat, grad_b_pre, None, None, None


def sparse_topk_encode(
    sae: TopKSAE, x: torch.Tensor, dead_mask: torch.Tensor | None = None, k_aux: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(values, indices, aux_values, aux_indices)``: pre-ReLU, unsorted selections of the
    model's code (``sae.select_training``: the top ``k`` for top-k) and of the top ``k_aux`` dead
    latents, with a sparse backward.

    ``x`` is treated as data: it receives no gradient.
    """
    return _SparseTopKEncode.apply(
        x, sae.W_enc, sae.b_lat, sae.b_pre, sae.select_training, dead_mask, k_aux
    )

