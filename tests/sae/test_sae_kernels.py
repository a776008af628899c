"""The compiled CPU kernels compute what their dense formulas compute, gradients included."""

import pytest
import torch

from disentangle.sae import kernels


def _code(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``[8, 6]`` codes over 20 latents with ReLU zeros and a latent repeated within a row
    (BatchTopK's padding repeats indices)."""
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(8, 6, dtype=dtype, generator=generator).relu()
    indices = torch.randint(0, 20, (8, 6), generator=generator)
    indices[0, 1] = indices[0, 0]
    values[0, :2] = torch.tensor([0.5, 0.25], dtype=dtype)
    return values, indices


def _dense(values: torch.Tensor, indices: torch.Tensor, n: int) -> torch.Tensor:
    return torch.zeros(values.shape[0], n, dtype=values.dtype).scatter_add(1, indices, values)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_combine_and_its_gradients_equal_the_dense_product(dtype: torch.dtype) -> None:
    values, indices = _code(dtype)
    weight = torch.randn(20, 5, dtype=dtype, generator=torch.Generator().manual_seed(1))
    upstream = torch.randn(8, 5, dtype=dtype, generator=torch.Generator().manual_seed(2))
    grads = []
    for combine in (kernels.combine, lambda v, i, w: _dense(v, i, 20) @ w):
        v, w = values.clone().requires_grad_(), weight.clone().requires_grad_()
        out = combine(v, indices, w)
        out.backward(upstream)
        grads.append((out.detach(), v.grad, w.grad))
    (out, grad_v, grad_w), (ref_out, ref_grad_v, ref_grad_w) = grads
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out, ref_out, atol=tol, rtol=tol)
    torch.testing.assert_close(grad_w, ref_grad_w, atol=tol, rtol=tol)
    # A zero (post-ReLU) value gets a zero gradient, the others the dense one.
    live = values != 0
    assert (~live).any() and torch.all(grad_v[~live] == 0)
    torch.testing.assert_close(grad_v[live], ref_grad_v[live], atol=tol, rtol=tol)


def test_scatter_adds_weighted_rows_into_their_latents() -> None:
    values, indices = _code(torch.float64)
    y = torch.randn(8, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out = torch.ones(20, 5, dtype=torch.float64)
    kernels.scatter(values, indices, y, out)
    torch.testing.assert_close(out, 1 + _dense(values, indices, 20).T @ y)
