"""The paper's training objective, in a dense reference form and a fast sparse form.

    loss = NMSE(x, x̂) + aux_coef · AuxK
    AuxK = NMSE(e, ê),  e = (x − x̂) detached,  ê = W_decᵀ ReLU(TopK_{k_aux}(pre | dead))

``pre`` are the encoder pre-activations; ``TopK_{k_aux}(pre | dead)`` keeps the ``k_aux``
largest among *dead* latents (all others masked to −inf); ``ê`` has no ``b_pre`` (a residual
has no offset). AuxK gives dead latents a gradient that points them at what the live ones
miss, which is how they come back to life. It is exactly 0 when no latent is dead.

``reference_loss`` materialises ``[batch, n]`` latents and is the correctness oracle;
``fast_loss`` (the default) gathers ``k`` decoder rows per input and back-propagates through
the selected latents only. Both compute the same function and the same gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from disentangle.metrics import normalized_mse
from disentangle.sae.fast import encoder_matmul, select, sparse_topk_encode
from disentangle.sae.model import TopKSAE


class LossOutput(NamedTuple):
    """``loss`` is differentiable; the rest are detached. ``values`` (post-ReLU) and
    ``indices`` are the batch's top-k code, *unsorted* (training does not need the order)."""

    loss: torch.Tensor
    nmse: torch.Tensor
    aux: torch.Tensor
    values: torch.Tensor
    indices: torch.Tensor


LossFn = Callable[[TopKSAE, torch.Tensor, "torch.Tensor | None", int, float], LossOutput]


def _combine(
    x: torch.Tensor, x_hat: torch.Tensor, e_hat: torch.Tensor | None,
    dead_mask: torch.Tensor | None, aux_coef: float, values: torch.Tensor, indices: torch.Tensor,
) -> LossOutput:
    nmse = normalized_mse(x, x_hat)
    if e_hat is None or dead_mask is None:
        aux = torch.zeros((), device=x.device)
    else:
        # Multiplying by "any dead" instead of branching on it avoids a host sync on GPU.
        aux = normalized_mse((x - x_hat).detach(), e_hat) * dead_mask.any()
    loss = nmse + aux_coef * aux
    return LossOutput(loss, nmse.detach(), aux.detach(), values.detach(), indices)


def reference_loss(
    sae: TopKSAE, x: torch.Tensor, dead_mask: torch.Tensor | None = None,
    k_aux: int = 0, aux_coef: float = 1 / 32,
) -> LossOutput:
    """Dense oracle: ``[batch, n]`` latents, dense decode, autograd through everything.

    ``dead_mask`` is a bool ``[n]`` (None: AuxK off, e.g. before any latent can be dead).
    """
    pre = encoder_matmul(x - sae.b_pre, sae.W_enc, sae.b_lat)
    values, indices, aux_values, aux_indices = select(pre, sae.config.k, dead_mask, k_aux)
    values = values.relu()
    x_hat = sae.decode_dense(torch.zeros_like(pre).scatter(1, indices, values))
    e_hat = None
    if dead_mask is not None:
        e_hat = torch.zeros_like(pre).scatter(1, aux_indices, aux_values.relu()) @ sae.W_dec
    return _combine(x, x_hat, e_hat, dead_mask, aux_coef, values, indices)


def fast_loss(
    sae: TopKSAE, x: torch.Tensor, dead_mask: torch.Tensor | None = None,
    k_aux: int = 0, aux_coef: float = 1 / 32,
) -> LossOutput:
    """Same value and gradients as ``reference_loss``, without ``[batch, n]`` latents in the
    backward pass or the decoder."""
    values, indices, aux_values, aux_indices = sparse_topk_encode(sae, x, dead_mask, k_aux)
    values = values.relu()
    x_hat = sae.decode(values, indices)
    e_hat = None
    if dead_mask is not None:
        e_hat = sae.decode_directions(aux_values.relu(), aux_indices)
    return _combine(x, x_hat, e_hat, dead_mask, aux_coef, values, indices)


def loss_fn(fast: bool = True) -> LossFn:
    """The fast path, or the dense reference (for checking and benchmarking side by side)."""
    return fast_loss if fast else reference_loss
