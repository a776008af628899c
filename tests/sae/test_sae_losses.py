"""The fast loss equals the dense reference, in value and in every parameter gradient, for
every architecture."""

import pytest
import torch

from disentangle.sae.fast import select
from disentangle.sae.losses import fast_loss, loss_fn, reference_loss
from disentangle.sae.model import ARCHITECTURES, SAEConfig, TopKSAE, top_k
from disentangle.sae.variants import build_sae


def _model(dtype: torch.dtype, architecture: str = "topk") -> TopKSAE:
    sae = build_sae(SAEConfig(d=16, n=64, k=4, architecture=architecture), seed=0).to(dtype)
    with torch.no_grad():  # non-trivial biases so every gradient path is exercised
        sae.b_lat.normal_(generator=torch.Generator().manual_seed(1))
        sae.b_pre.normal_(generator=torch.Generator().manual_seed(2))
    return sae


def _loss_and_grads(fn, sae, x, dead, k_aux):
    sae.zero_grad()
    out = fn(sae, x, dead, k_aux, 0.5)
    out.loss.backward()
    return out, {name: p.grad.clone() for name, p in sae.named_parameters()}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize("with_dead", [True, False])
def test_fast_equals_reference(architecture: str, dtype: torch.dtype, tol: float,
                               with_dead: bool) -> None:
    sae = _model(dtype, architecture)
    x = torch.randn(32, 16, dtype=dtype, generator=torch.Generator().manual_seed(3))
    dead = torch.arange(64) % 3 == 0 if with_dead else None  # some dead latents also win top-k
    ref, ref_grads = _loss_and_grads(reference_loss, sae, x, dead, 8)
    fast, fast_grads = _loss_and_grads(fast_loss, sae, x, dead, 8)
    assert (ref.aux > 0) == with_dead
    torch.testing.assert_close(fast.loss, ref.loss, atol=tol, rtol=tol)
    torch.testing.assert_close(fast.nmse, ref.nmse, atol=tol, rtol=tol)
    torch.testing.assert_close(fast.aux, ref.aux, atol=tol, rtol=tol)
    assert torch.equal(fast.values, ref.values) and torch.equal(fast.indices, ref.indices)
    for name, grad in ref_grads.items():
        assert grad.abs().max() > 0, name
        torch.testing.assert_close(fast_grads[name], grad, atol=tol, rtol=tol, msg=name)


@pytest.mark.parametrize("fast", [True, False])
def test_auxk_is_zero_without_dead_latents_and_only_feeds_dead_ones(fast: bool) -> None:
    sae = _model(torch.float64)
    x = torch.randn(32, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    none_dead = torch.zeros(64, dtype=torch.bool)
    out = loss_fn(fast)(sae, x, none_dead, 8, 0.5)
    assert float(out.aux) == 0.0
    assert float(out.loss.detach()) == float(out.nmse)

    # AuxK's gradient (coef 1 minus coef 0) reaches only the dead decoder rows.
    dead = torch.arange(64) >= 48
    grads = []
    for coef in (0.0, 1.0):
        sae.zero_grad()
        loss_fn(fast)(sae, x, dead, 8, coef).loss.backward()
        grads.append(sae.W_dec.grad.clone())
    aux_grad = grads[1] - grads[0]
    assert torch.all(aux_grad[~dead] == 0)
    assert aux_grad[dead].abs().sum() > 0


@pytest.mark.parametrize("dead_count", [0, 3, 20])
def test_auxk_selection_equals_a_masked_top_k(dead_count: int) -> None:
    """AuxK picks the top ``k_aux`` dead latents; with fewer dead than ``k_aux`` the rest are
    distinct live latents at −inf (they add nothing after the ReLU)."""
    pre = torch.randn(16, 64, generator=torch.Generator().manual_seed(5))
    dead = torch.zeros(64, dtype=torch.bool)
    dead[torch.randperm(64, generator=torch.Generator().manual_seed(6))[:dead_count]] = True
    *_, values, indices = select(pre, lambda p: top_k(p, 4), dead, 8)
    expected = pre.masked_fill(~dead, float("-inf")).topk(8, dim=1).values
    assert torch.equal(values.sort(1, descending=True).values, expected)
    assert torch.equal(pre.gather(1, indices)[values.isfinite()], values[values.isfinite()])
    assert dead[indices[values.isfinite()]].all()
    assert (indices.sort(1).values.diff(dim=1) > 0).all()
