"""The paper's training objective, in a dense reference form and a fast sparse form.

    loss = NMSE(x, x̂) + aux_coef · AuxK
    AuxK = NMSE(e, √NMSE(x, x̂) · ê),  e = (x − x̂) detached,
    ê = W_decᵀ ReLU(TopK_{k_aux}(pre | dead))

``pre`` are the encoder pre-activations; ``TopK_{k_aux}(pre | dead)`` keeps the ``k_aux``
largest among *dead* latents (all others masked to −inf); ``ê`` has no ``b_pre`` (a residual
has no offset); the factor √NMSE is a constant (no gradient). AuxK gives dead latents a
gradient that points them at what the live ones miss, which is how they come back to life.
It is exactly 0 when no latent is dead.

Why the damping: Gao et al.'s AuxK (``NMSE(e, ê)``) asks a dead latent for an activation the
size of the *residual*, which shrinks as the live latents improve, while coming back to life
needs an activation that beats the ``k``-th live one, the size of the *data*. The better the
model, the weaker the pull; with encoder rows initialised at the least-squares gain (faster
convergence) a third of the weakened latents of
``tests/sae/test_sae_training.py::test_auxk_revives_latents_that_never_win`` stayed dead.
Damping ``ê`` by √NMSE (the residual's share of the data's spread) is fitting the residual
rescaled to the data's spread, so a dead latent is trained towards a live latent's scale.

The architecture variants (``sae/variants.py``) change two things through the model's hooks:
which latents form the code (BatchTopK keeps the batch's ``B·k`` largest of each row's top
``c``), and the reconstruction term, which Matryoshka averages over nested prefixes
``m_1 < … < m_P = n``: ``mean_p NMSE(x, x̂_p)``, ``x̂_p`` decoded from latents ``< m_p`` only
(``x̂_P = x̂``, whose NMSE is reported and whose residual AuxK fits).

``reference_loss`` materialises ``[batch, n]`` latents and is the correctness oracle;
``fast_loss`` (the default) gathers the code's decoder rows per input and back-propagates
through the selected latents only. Both compute the same function and the same gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from disentangle.metrics import normalized_mse
from disentangle.sae.fast import encoder_matmul, select, sparse_topk_encode
from disentangle.sae.model import TopKSAE
from disentangle.sae.variants import prefix_values


class LossOutput(NamedTuple):
    """``loss`` is differentiable; the rest are detached. ``values`` (post-ReLU) and
    ``indices`` are the batch's training code, *unsorted* (training does not need the order):
    width ``k``, or BatchTopK's ``w ≤ c`` per row, its padding zero."""

    loss: torch.Tensor
    nmse: torch.Tensor
    aux: torch.Tensor
    values: torch.Tensor
    indices: torch.Tensor


LossFn = Callable[[TopKSAE, torch.Tensor, "torch.Tensor | None", int, float], LossOutput]


def _combine(
    x: torch.Tensor, x_hats: list[torch.Tensor], e_hat: torch.Tensor | None,
    dead_mask: torch.Tensor | None, aux_coef: float, values: torch.Tensor, indices: torch.Tensor,
) -> LossOutput:
    """``x_hats`` are the nested reconstructions, the last from the whole code (top-k and
    BatchTopK have only that one)."""
    nmses = [normalized_mse(x, x_hat) for x_hat in x_hats]
    nmse = nmses[-1]
    if e_hat is None or dead_mask is None:
        aux = torch.zeros((), device=x.device)
    else:
        # The dead latents' reconstruction is damped by √NMSE: they fit the residual as if it
        # had the data's scale (see the module docstring). Multiplying by "any dead" instead
        # of branching on it avoids a host sync on GPU.
        damping = nmse.detach().sqrt()
        aux = normalized_mse((x - x_hats[-1]).detach(), damping * e_hat) * dead_mask.any()
    loss = torch.stack(nmses).mean() + aux_coef * aux
    return LossOutput(loss, nmse.detach(), aux.detach(), values.detach(), indices)


def reference_loss(
    sae: TopKSAE, x: torch.Tensor, dead_mask: torch.Tensor | None = None,
    k_aux: int = 0, aux_coef: float = 1 / 32,
) -> LossOutput:
    """Dense oracle: ``[batch, n]`` latents, dense decode, autograd through everything.

    ``dead_mask`` is a bool ``[n]`` (None: AuxK off, e.g. before any latent can be dead).
    """
    pre = encoder_matmul(x - sae.b_pre, sae.W_enc, sae.b_lat)
    values, indices, aux_values, aux_indices = select(pre, sae.select_training, dead_mask, k_aux)
    values = values.relu()
    # scatter_add: BatchTopK pads its rows with zero entries that may repeat an index.
    latents = torch.zeros_like(pre).scatter_add(1, indices, values)
    position = torch.arange(sae.config.n, device=pre.device)
    x_hats = [sae.decode_dense(latents * (position < size)) for size in sae.nested_sizes()[:-1]]
    x_hats.append(sae.decode_dense(latents))
    e_hat = None
    if dead_mask is not None:
        e_hat = torch.zeros_like(pre).scatter(1, aux_indices, aux_values.relu()) @ sae.W_dec
    return _combine(x, x_hats, e_hat, dead_mask, aux_coef, values, indices)


def fast_loss(
    sae: TopKSAE, x: torch.Tensor, dead_mask: torch.Tensor | None = None,
    k_aux: int = 0, aux_coef: float = 1 / 32,
) -> LossOutput:
    """Same value and gradients as ``reference_loss``, without ``[batch, n]`` latents in the
    backward pass or the decoder."""
    values, indices, aux_values, aux_indices = sparse_topk_encode(sae, x, dead_mask, k_aux)
    values = values.relu()
    x_hats = [sae.decode(prefix_values(values, indices, size), indices)
              for size in sae.nested_sizes()[:-1]]
    x_hats.append(sae.decode(values, indices))
    e_hat = None
    if dead_mask is not None:
        e_hat = sae.decode_directions(aux_values.relu(), aux_indices)
    return _combine(x, x_hats, e_hat, dead_mask, aux_coef, values, indices)


def loss_fn(fast: bool = True) -> LossFn:
    """The fast path, or the dense reference (for checking and benchmarking side by side)."""
    return fast_loss if fast else reference_loss
