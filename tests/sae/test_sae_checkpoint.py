"""Loading a trained SAE back, and refusing to apply it to foreign embeddings."""

from pathlib import Path

import numpy as np
import pytest
import torch

from disentangle.errors import DisentangleError
from disentangle.io import read_json
from disentangle.sae.checkpoint import check_compatible, load_sae
from disentangle.sae.model import SAEConfig, TopKSAE
from disentangle.sae.trainer import TrainConfig, split_indices, train_sae
from disentangle.sae.variants import BatchTopKSAE, MatryoshkaSAE

EMBEDDER = {"model": "toy", "dim": 8, "normalized": True}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, torch.nn.Module, np.ndarray]:
    out = tmp_path_factory.mktemp("run")
    x = np.random.default_rng(0).normal(size=(400, 8)).astype(np.float32)
    provenance = {"embedder": EMBEDDER, "corpus_hash": "c1", "input_normalization": "none"}
    result = train_sae(x, SAEConfig(d=8, n=16, k=2), TrainConfig(epochs=1, batch_size=128),
                       out, provenance)
    return out, result.sae, x


def test_load_round_trip(trained) -> None:
    out, sae, x = trained
    loaded, meta = load_sae(out)
    for name, value in sae.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)
    batch = torch.from_numpy(x[:5])
    assert torch.equal(loaded(batch), sae(batch))
    assert meta["sae"] == {"d": 8, "n": 16, "k": 2}  # as written before architectures existed
    assert type(loaded) is TopKSAE and loaded.config.architecture == "topk"
    assert meta["provenance"]["corpus_hash"] == "c1"
    assert read_json(out / "metrics.json")["history"][0]["epoch"] == 1
    _, val = split_indices(meta["split"]["n_rows"], meta["split"]["val_fraction"],
                           meta["split"]["seed"])
    assert len(val) == 20


@pytest.mark.parametrize(("architecture", "cls", "stored"), [
    ("batchtopk", BatchTopKSAE, {"architecture": "batchtopk"}),
    ("matryoshka", MatryoshkaSAE, {"architecture": "matryoshka", "prefixes": [4, 8, 16]}),
])
def test_variant_round_trip(tmp_path: Path, architecture: str, cls: type, stored: dict) -> None:
    x = np.random.default_rng(0).normal(size=(400, 8)).astype(np.float32)
    provenance = {"embedder": EMBEDDER, "corpus_hash": "c1", "input_normalization": "none"}
    config = SAEConfig(d=8, n=16, k=2, architecture=architecture,
                       prefixes=(4, 8) if architecture == "matryoshka" else None)
    sae = train_sae(x, config, TrainConfig(epochs=1, batch_size=128), tmp_path, provenance).sae
    loaded, meta = load_sae(tmp_path)
    assert meta["sae"] == {"d": 8, "n": 16, "k": 2, **stored}
    assert type(loaded) is cls and loaded.config == config
    assert loaded.state_dict().keys() == sae.state_dict().keys()
    for name, value in sae.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    if architecture == "batchtopk":  # the threshold is a trained value, saved with the weights
        assert float(loaded.threshold) > 0
    batch = torch.from_numpy(x[:5])
    assert torch.equal(loaded(batch), sae(batch))


def test_check_compatible(trained) -> None:
    _, _, _ = trained
    _, meta = load_sae(trained[0])
    assert check_compatible(meta, EMBEDDER) is True
    assert check_compatible(meta, EMBEDDER, "c1") is True
    assert check_compatible(meta, EMBEDDER, "another corpus") is False
    with pytest.raises(DisentangleError, match="model="):
        check_compatible(meta, {**EMBEDDER, "model": "other"})
    with pytest.raises(DisentangleError, match="dim="):
        check_compatible(meta, {**EMBEDDER, "dim": 16})
    with pytest.raises(DisentangleError, match="normalized="):
        check_compatible(meta, {**EMBEDDER, "normalized": False})


def test_load_refuses_unfinished_dir(tmp_path: Path) -> None:
    with pytest.raises(DisentangleError, match="no finished SAE"):
        load_sae(tmp_path)


def test_sizes_do_not_share_initial_rows():
    """Same seed, different n: the smaller dictionary is not a prefix of the larger one."""
    from disentangle.sae.model import SAEConfig, TopKSAE

    small = TopKSAE(SAEConfig(d=16, n=32, k=4), seed=0).W_dec.detach()
    large = TopKSAE(SAEConfig(d=16, n=64, k=4), seed=0).W_dec.detach()
    again = TopKSAE(SAEConfig(d=16, n=32, k=4), seed=0).W_dec.detach()
    assert (small == again).all()
    assert (small @ large[:32].T).diagonal().abs().max() < 0.99
