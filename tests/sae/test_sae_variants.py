"""BatchTopK and Matryoshka: their configs, codes, losses, threshold and what training them
gives compared with plain top-k."""

from pathlib import Path

import numpy as np
import pytest
import torch

from disentangle.errors import DisentangleError
from disentangle.metrics import normalized_mse
from disentangle.sae import kernels
from disentangle.sae.losses import fast_loss, reference_loss
from disentangle.sae.model import ARCHITECTURES, SAEConfig, TopKSAE
from disentangle.sae.trainer import RunSpec, TrainConfig, train_many, train_sae
from disentangle.sae.variants import BatchTopKSAE, MatryoshkaSAE, build_sae, prefix_values

PROVENANCE = {"embedder": {"model": "toy", "dim": 32, "normalized": False},
              "corpus_hash": "abc", "input_normalization": "none"}


def _planted(rows: int, seed: int, zipf: bool = False) -> np.ndarray:
    """x = z·D: 64 unit-norm atoms in 32-d, 4 active per row with activations in [0.5, 1.5];
    with ``zipf`` the i-th atom is picked with probability ∝ 1/(i+1) (a few general atoms,
    many rare ones). The atoms depend only on the generator's first draws, so every call
    shares them whatever ``rows`` is."""
    rng = np.random.default_rng(0)
    atoms = rng.normal(size=(64, 32))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, 65) if zipf else np.ones(64)
    z = np.zeros((rows, 64))
    for row in z:
        row[rng.choice(64, 4, replace=False, p=p / p.sum())] = rng.uniform(0.5, 1.5, 4)
    return (z @ atoms).astype(np.float32)


def test_config_names_defaults_and_errors() -> None:
    assert SAEConfig(d=8, n=3072, k=32).to_dict() == {"d": 8, "n": 3072, "k": 32}
    assert SAEConfig(d=8, n=3072, k=32).name() == "n3072-k32"
    batch = SAEConfig(d=8, n=3072, k=32, architecture="batchtopk")
    assert batch.to_dict() == {"d": 8, "n": 3072, "k": 32, "architecture": "batchtopk"}
    assert batch.name() == "n3072-k32-batchtopk"
    nested = SAEConfig(d=8, n=3072, k=32, architecture="matryoshka")
    assert nested.prefixes == (192, 768, 3072)
    assert nested.to_dict()["prefixes"] == [192, 768, 3072]
    assert SAEConfig(**nested.to_dict()) == nested  # what checkpoint loading does with JSON
    assert SAEConfig(d=8, n=64, k=4, architecture="matryoshka", prefixes=(8, 16)).prefixes == \
        (8, 16, 64)
    with pytest.raises(DisentangleError, match="use one of topk, batchtopk, matryoshka"):
        SAEConfig(d=8, n=64, k=4, architecture="jumprelu")
    with pytest.raises(DisentangleError, match="matryoshka architecture only"):
        SAEConfig(d=8, n=64, k=4, architecture="batchtopk", prefixes=(8, 64))
    for bad in ((16, 8), (0, 8), (8, 128)):
        with pytest.raises(DisentangleError, match="increase strictly"):
            SAEConfig(d=8, n=64, k=4, architecture="matryoshka", prefixes=bad)


def test_each_architecture_builds_its_class_and_top_k_keeps_its_seeds() -> None:
    classes = {"topk": TopKSAE, "batchtopk": BatchTopKSAE, "matryoshka": MatryoshkaSAE}
    assert set(classes) == set(ARCHITECTURES)
    init = {}
    for name, cls in classes.items():
        sae = build_sae(SAEConfig(d=16, n=32, k=4, architecture=name), seed=0)
        assert type(sae) is cls
        init[name] = sae.W_dec.detach()
    # Top-k initialises exactly as before architectures existed (existing runs depend on it).
    state = np.random.SeedSequence([0, 16, 32, 4]).generate_state(1)[0]
    w_dec = torch.empty(32, 16).uniform_(-(6 / 48) ** 0.5, (6 / 48) ** 0.5,
                                         generator=torch.Generator().manual_seed(int(state)))
    torch.testing.assert_close(init["topk"], w_dec / w_dec.norm(dim=1, keepdim=True),
                               rtol=0, atol=0)
    # The variants start elsewhere, so no feature matches across architectures by its init.
    for name in ("batchtopk", "matryoshka"):
        assert (init[name] @ init["topk"].T).diagonal().abs().max() < 0.99


@pytest.mark.parametrize("fn", [fast_loss, reference_loss])
def test_batchtopk_training_keeps_the_batch_top_bk(fn) -> None:
    sae = build_sae(SAEConfig(d=16, n=64, k=4, architecture="batchtopk"), seed=0)
    x = torch.randn(32, 16, generator=torch.Generator().manual_seed(3))
    out = fn(sae, x)
    assert out.values.shape[0] == 32 and out.values.shape[1] <= 16  # c = min(n, 4k) at most
    per_row = (out.values > 0).sum(dim=1)
    assert int(per_row.sum()) == 32 * 4
    assert per_row.min() < 4 < per_row.max()
    # The kept entries are the batch's largest among each row's top c, the rest exactly 0.
    candidates = sae.pre_activations(x).detach().topk(16, dim=1).values.relu()
    kept = out.values[out.values > 0]
    assert kept.min() >= candidates.flatten().topk(32 * 4).values.min()
    torch.testing.assert_close(kept.sort().values, candidates.flatten().topk(32 * 4).values
                               .sort().values)


@pytest.mark.parametrize(("crowded_row", "dtype"), [(False, torch.float32),
                                                    (True, torch.float32),
                                                    (False, torch.float64)])
def test_batchtopk_selection_is_the_batch_top_bk_within_each_rows_top_c(crowded_row, dtype
                                                                        ) -> None:
    """The compiled batch selection (float32), the capped one (when a row would exceed c)
    and the torch one (other dtypes, GPUs), which is always as wide as c."""
    sae = build_sae(SAEConfig(d=16, n=64, k=4, architecture="batchtopk"), seed=0)
    pre = torch.randn(32, 64, generator=torch.Generator().manual_seed(4), dtype=dtype)
    direct = dtype == torch.float32 and not crowded_row
    if crowded_row:
        pre[7] += 10.0  # row 7 alone holds the batch's 64 largest entries; it may keep 16
    values, indices = sae.select_training(pre)
    per_row = (values != 0).sum(dim=1)
    # The direct selection is as wide as the fullest row (here less than c), the others c.
    assert values.shape == indices.shape == (32, int(per_row.max()) if direct else 16)
    assert (per_row.max() == 16) == crowded_row
    candidates, _ = pre.topk(16, dim=1)
    expected = candidates.flatten().topk(32 * 4).values
    kept = values[values != 0]
    torch.testing.assert_close(kept.sort().values, expected.sort().values)
    assert torch.equal(pre.gather(1, indices)[values != 0], kept)
    for row in range(32):  # no latent twice among a row's kept entries
        assert indices[row][values[row] != 0].unique().numel() == int((values[row] != 0).sum())
    # The direct selection answers unless the cap binds; then row 7 keeps exactly c.
    if dtype == torch.float32:
        assert (kernels.batch_top(pre, 32 * 4, 4, 16) is None) == crowded_row
    if crowded_row:
        assert int((values[7] != 0).sum()) == 16


@pytest.mark.parametrize("size", [1, 4])
def test_compiled_batch_top_keeps_exactly_the_count_largest_with_ties(size) -> None:
    """Hundreds of entries equal to the count-th value: exactly ``count`` are kept, each at
    its own column, and the codes are as wide as the fullest row."""
    generator = torch.Generator().manual_seed(8)
    pre = torch.randint(1, 7, (40, 64), generator=generator).float()  # no zeros: 0 pads
    pre[pre > 3] *= -1  # 1, 2, 3 and their negatives; the top 160 end inside the 2s
    count = 40 * 4
    expected = pre.flatten().topk(count).values
    assert int((pre == expected.min()).sum()) > 2 * int((expected == expected.min()).sum())
    values, indices = kernels.batch_top(pre, count, size, 64)
    kept = values != 0
    assert int(kept.sum()) == count
    assert values.shape[1] == int(kept.sum(1).max())
    torch.testing.assert_close(values[kept].sort().values, expected.sort().values)
    assert torch.equal(pre.gather(1, indices)[kept], values[kept])
    for row in range(40):
        assert indices[row][kept[row]].unique().numel() == int(kept[row].sum())


@torch.no_grad()
def test_batchtopk_encode_falls_back_to_top_k_then_uses_the_threshold() -> None:
    sae = build_sae(SAEConfig(d=16, n=64, k=4, architecture="batchtopk"), seed=0)
    x = torch.randn(50, 16, generator=torch.Generator().manual_seed(5))
    fresh = sae.encode(x)
    assert fresh.values.shape == (50, 16)
    assert torch.equal((fresh.values > 0).sum(dim=1), torch.full((50,), 4))
    assert torch.all(fresh.values[:, 4:] == 0)
    top_k = TopKSAE.encode(sae, x)  # the plain top-k code of the same weights
    torch.testing.assert_close(fresh.values[:, :4], top_k.values)
    sae.threshold.fill_(float(fresh.values[:, 1].median()))
    code = sae.encode(x)
    active = code.values > 0
    assert torch.all(code.values[active] > sae.threshold)
    assert torch.all(active[:, :-1] | ~active[:, 1:])  # zeros only after the active slots
    per_row = active.sum(dim=1)
    assert per_row.min() < per_row.max()


def test_batchtopk_threshold_gives_mean_l0_near_k(tmp_path: Path) -> None:
    x = _planted(4096, seed=1)
    config = TrainConfig(epochs=6, batch_size=256, lr=1e-2)
    result = train_sae(x, SAEConfig(d=32, n=128, k=4, architecture="batchtopk"), config,
                       tmp_path, PROVENANCE)
    assert result.history[-1]["train"]["l0"] == pytest.approx(4.0)  # B·k per training batch
    sae = result.sae
    assert float(sae.threshold) > 0
    unseen = torch.from_numpy(_planted(2000, seed=2))
    with torch.no_grad():
        code = sae.encode(unseen)
        nmse = float(normalized_mse(unseen, sae.decode(code.values, code.indices)))
    l0 = (code.values > 0).sum(dim=1).float()
    assert 3.4 <= float(l0.mean()) <= 4.6
    assert l0.min() < l0.max()  # a variable number per row, as in training
    assert nmse < 0.5


def test_matryoshka_loss_is_the_mean_of_the_prefix_errors() -> None:
    sae = build_sae(SAEConfig(d=16, n=64, k=4, architecture="matryoshka", prefixes=(8, 24)),
                    seed=0)
    x = torch.randn(32, 16, generator=torch.Generator().manual_seed(6))
    code = sae.encode(x)
    errors = [normalized_mse(x, sae.decode(prefix_values(code.values, code.indices, m),
                                           code.indices)) for m in (8, 24, 64)]
    assert errors[0] > errors[1] > errors[2]
    out = fast_loss(sae, x, aux_coef=0.0)
    torch.testing.assert_close(out.loss, torch.stack(errors).mean())
    torch.testing.assert_close(out.nmse, errors[2])


def test_matryoshka_first_prefix_reconstructs_far_better_than_top_k(tmp_path: Path) -> None:
    """Same data, batches and steps: Matryoshka's first 8 latents alone explain much of the
    data (the frequent atoms), plain top-k's first 8 are an arbitrary handful."""
    x = _planted(4096, seed=1, zipf=True)
    config = TrainConfig(epochs=3, batch_size=256, lr=1e-2)
    specs = [RunSpec(SAEConfig(d=32, n=128, k=4, architecture=name, prefixes=prefixes), config,
                     tmp_path / name)
             for name, prefixes in (("topk", None), ("matryoshka", (8, 32)))]
    plain, nested = (result.sae for result in train_many(x, specs, PROVENANCE))
    unseen = torch.from_numpy(_planted(2000, seed=2, zipf=True))

    @torch.no_grad()
    def first_prefix_nmse(sae: TopKSAE) -> float:
        code = sae.encode(unseen)
        return float(normalized_mse(unseen, sae.decode(prefix_values(code.values, code.indices,
                                                                     8), code.indices)))

    assert first_prefix_nmse(nested) < first_prefix_nmse(plain) - 0.15
    with torch.no_grad():  # and still a good SAE overall
        assert float(normalized_mse(unseen, nested(unseen))) < 0.5
