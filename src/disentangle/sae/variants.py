"""The two architecture variants of the top-k SAE, chosen by ``SAEConfig.architecture``.

**BatchTopK** (Bussmann, Leask & Nanda 2024). Training keeps the ``B·k`` largest activations
of a whole batch of ``B`` rows instead of the top ``k`` of each row: rows that need more
latents get more, the batch mean stays ``k``. Codes are ``[B, w]`` tensors padded with
zeros, and no row may use more than ``c = min(n, 4k)`` latents (``CANDIDATE_FACTOR``), a cap
the paper does not have (it bounds ``w`` and inference codes). The smallest kept
activation of each batch feeds a running threshold θ (a buffer, saved with the weights);
inference keeps a row's top-``c`` activations above θ, needs no batch, and its mean L0 stays
near ``k`` on data like the training data.

**Matryoshka** (Bussmann et al. 2025; Nabeshima 2024). The code is the ordinary top-k one,
but the loss averages the NMSE of the reconstructions from nested dictionary prefixes (the
latents ``< m_1``, ``< m_2``, …, all ``n``), so the first latents must reconstruct well on
their own and learn general (parent) features, leaving specifics to later ones.

Both run through the top-k encoder, its sparse backward and the shared losses by overriding
``TopKSAE``'s hooks; ``build_sae`` picks the class of a config.
"""

from __future__ import annotations

import torch

from disentangle.sae.model import SAEConfig, SparseCode, TopKSAE, _group_size, top_k

CANDIDATE_FACTOR = 4
"""BatchTopK's per-row cap is ``CANDIDATE_FACTOR·k`` latents (the most width of its codes)."""
THRESHOLD_DECAY = 0.9
"""EMA decay of BatchTopK's θ: a memory of about 10 steps, short enough to follow the weights
as they move (with 0.99 the first batches' θ dominated short runs and inference L0 fell far
below k); dictionary_learning uses 0.999 for long runs."""


def prefix_values(values: torch.Tensor, indices: torch.Tensor, size: int) -> torch.Tensor:
    """A code's values with every latent at index ``size`` or above zeroed: what a dictionary
    prefix of ``size`` latents reconstructs from."""
    return values * (indices < size)


class BatchTopKSAE(TopKSAE):
    """Batch-level top-k in training; per-row top-``c`` above a learned threshold in
    inference."""

    threshold: torch.Tensor

    def __init__(self, config: SAEConfig, *, seed: int | None = None) -> None:
        super().__init__(config, seed=seed)
        # θ stays 0 ("not estimated") until the first training batch sets it.
        self.register_buffer("threshold", torch.zeros(()))

    def selection_width(self) -> int:
        """Latents per row at most: ``c = min(n, 4k)``."""
        return min(self.config.n, CANDIDATE_FACTOR * self.config.k)

    def select_training(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``B·k`` largest pre-activations of the batch among each row's top ``c``, as
        ``[B, w]`` codes, ``w ≤ c``: a row's kept entries first, the rest of its width
        padding (value 0, which the ReLU keeps at 0 with a zero gradient; its index may
        repeat a kept one).

        For float32 on CPU the batch's top ``B·k`` are found directly by one compiled
        selection (``kernels.batch_top``), without each row's top ``c``, and ``w`` is the
        most any row keeps (so the decoder and the sparse backward never see the
        ``B·(c − k)`` entries a row-wise selection would drop); if a row then holds more
        than ``c`` (the cap binds), and on a GPU, each row's top ``c`` are selected first
        and the batch's ``B·k`` among them (``w = c``)."""
        width, kept = self.selection_width(), pre.shape[0] * self.config.k
        if not pre.is_cuda and pre.dtype == torch.float32:
            from disentangle.sae import kernels  # numba: compiled on first use, CPU only

            code = kernels.batch_top(pre, kept, _group_size(self.config.n, self.config.k),
                                     width)
            if code is not None:
                return code
        values, indices = top_k(pre, width)
        keep = torch.zeros(values.numel(), dtype=torch.bool, device=pre.device).index_fill_(
            0, values.reshape(-1).topk(kept, sorted=False).indices, True)
        return torch.where(keep.view_as(values), values, 0.0), indices

    @torch.no_grad()
    def track_training_code(self, values: torch.Tensor) -> None:
        """θ ← EMA of the batch's smallest kept positive activation; the first batch sets it
        outright and a batch with none leaves it. Tensor ops only: no host sync per step."""
        smallest = values.masked_fill(values <= 0, float("inf")).min()
        average = torch.where(
            self.threshold > 0,
            THRESHOLD_DECAY * self.threshold + (1 - THRESHOLD_DECAY) * smallest, smallest)
        self.threshold.copy_(torch.where(torch.isfinite(smallest), average, self.threshold))

    def encode(self, x: torch.Tensor) -> SparseCode:
        """Each row's top ``c`` latents, strongest first, those not above θ set to 0; before θ
        is estimated (a fresh model), the top ``k`` instead. Width ``c`` either way."""
        values, indices = top_k(self.pre_activations(x), self.selection_width(), sorted=True)
        values = values.relu()
        rank = torch.arange(values.shape[1], device=values.device)
        keep = torch.where(self.threshold > 0, values > self.threshold, rank < self.config.k)
        return SparseCode(torch.where(keep, values, 0.0), indices)


class MatryoshkaSAE(TopKSAE):
    """Top-k code; the loss reconstructs from each nested prefix of the dictionary."""

    def nested_sizes(self) -> tuple[int, ...]:
        return self.config.prefixes or (self.config.n,)


_CLASSES: dict[str, type[TopKSAE]] = {
    "topk": TopKSAE, "batchtopk": BatchTopKSAE, "matryoshka": MatryoshkaSAE,
}


def build_sae(config: SAEConfig, *, seed: int | None = None) -> TopKSAE:
    """A fresh SAE of ``config.architecture`` (a name ``SAEConfig`` has already checked)."""
    return _CLASSES[config.architecture](config, seed=seed)
