"""The grouped CPU top-k (a compiled kernel) selects what torch's top-k selects."""

import pytest
import torch

from disentangle.sae.model import _group_size, top_k


@pytest.mark.parametrize(("n", "k"), [(64, 4), (3072, 32), (1536, 64), (384, 128), (97, 5),
                                    (50, 50)])
@pytest.mark.parametrize("transposed", [False, True])
def test_top_k_matches_torch_topk(n: int, k: int, transposed: bool) -> None:
    generator = torch.Generator().manual_seed(n + k)
    pre = torch.randn(64, n, generator=generator)
    if transposed:  # a non-contiguous view
        pre = pre.T.contiguous().T
    pre[0] = float("-inf")  # an all-masked row (AuxK with no dead latent)
    pre[1, : n // 2] = float("-inf")
    pre[2] = pre[2].round()  # many ties
    pre[3, ::2] = -pre[3, ::2].abs()  # negatives only in some groups
    pre[4, 5] = -0.0
    expected = pre.topk(k, dim=1, sorted=True).values
    values, indices = top_k(pre, k, sorted=True)
    assert torch.equal(values, expected)
    assert torch.equal(pre.gather(1, indices), values)
    assert (indices.sort(1).values.diff(dim=1) > 0).all()  # distinct latents per row
    unsorted, _ = top_k(pre, k)
    assert torch.equal(unsorted.sort(1, descending=True).values, expected)


def test_group_size_gives_at_least_k_groups_or_none() -> None:
    assert _group_size(3072, 32) == 8  # √(3072/32) ≈ 9.8
    assert _group_size(100, 30) == 1  # n < 4k: plain top-k
    for n, k in [(3072, 32), (1536, 64), (9216, 64), (97, 5)]:
        size = _group_size(n, k)
        assert size == 1 or (n % size == 0 and n // size >= k)
