"""Sparse autoencoders: the paper's top-k SAE and its variants, the trainer, checkpoints and
sweeps. Figures live in :mod:`disentangle.sae.plots`, imported only where one is drawn."""

from disentangle.sae.model import ARCHITECTURES, SAEConfig, TopKSAE
from disentangle.sae.trainer import TrainConfig, TrainResult, train_sae
from disentangle.sae.variants import build_sae

__all__ = ["ARCHITECTURES", "SAEConfig", "TopKSAE", "TrainConfig", "TrainResult", "build_sae",
           "train_sae"]
