"""What a training run leaves in its folder, and how a trained SAE is loaded back safely.

The files (named by :class:`~disentangle.workspace.SAEFolder`, each written atomically):

- config: SAE config, train config, provenance (embedder identity, corpus hash, input
  normalisation) and the train/validation split recipe. Written before the first step, so a
  second run into the same folder can be checked against it.
- state: the full resumable state after the last finished epoch.
- metrics: per-epoch metrics history.
- weights (safetensors): final weights; their presence marks the run as finished.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from disentangle.errors import DisentangleError
from disentangle.io import DamagedFile, atomic_path, checked_read, read_json, write_json
from disentangle.sae.model import SAEConfig, TopKSAE
from disentangle.sae.variants import build_sae
from disentangle.workspace import SAEFolder


def read_config(out_dir: Path) -> dict[str, Any] | None:
    path = SAEFolder(out_dir).config_path
    return read_json(path) if path.exists() else None


def write_config(out_dir: Path, meta: dict[str, Any]) -> None:
    write_json(SAEFolder(out_dir).config_path, meta)


def write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    write_json(SAEFolder(out_dir).metrics_path, {"history": history})


def save_state(out_dir: Path, state: dict[str, Any]) -> None:
    with atomic_path(SAEFolder(out_dir).state_path) as tmp:
        torch.save(state, tmp)


def load_state(out_dir: Path) -> dict[str, Any] | None:
    path = SAEFolder(out_dir).state_path
    if not path.exists():
        return None
    return checked_read(path, lambda p: torch.load(p, map_location="cpu", weights_only=True),
                        (RuntimeError, pickle.UnpicklingError))


def save_weights(out_dir: Path, sae: TopKSAE) -> None:
    with atomic_path(SAEFolder(out_dir).weights_path) as tmp:
        save_file({name: t.detach().cpu().contiguous() for name, t in sae.state_dict().items()},
                  os.fspath(tmp))


def is_finished(out_dir: Path) -> bool:
    return SAEFolder(out_dir).is_trained


def load_sae(directory: str | os.PathLike[str], device: str = "cpu") -> tuple[TopKSAE, dict]:
    """The trained SAE (eval mode) and its config metadata, for ``check_compatible``.
    A config without ``architecture`` (written before variants existed) is top-k."""
    folder = SAEFolder(Path(directory))
    meta = read_config(folder.root)
    if not folder.is_trained or meta is None:
        raise DisentangleError(
            f"{folder.root}: no finished SAE here (missing {folder.weights_path.name} or "
            f"{folder.config_path.name}); train one first or point at the right directory"
        )
    try:
        config = SAEConfig(**meta["sae"])
    except (KeyError, TypeError, ValueError) as error:
        raise DamagedFile(folder.config_path, f"no valid SAE config: {error}") from None
    sae = build_sae(config)
    weights = checked_read(folder.weights_path, lambda p: load_file(os.fspath(p)),
                           (SafetensorError,))
    try:
        sae.load_state_dict(weights)
    except RuntimeError as error:  # weights of another shape than the config describes
        raise DamagedFile(folder.weights_path, f"does not match {folder.config_path.name}: "
                          f"{str(error).splitlines()[-1].strip()}") from None
    return sae.to(device).eval(), meta


def check_compatible(
    meta: dict[str, Any], embedder_identity: dict[str, Any], corpus_hash: str | None = None
) -> bool:
    """Refuse to apply an SAE to vectors from another embedder; report a corpus change.

    Raises ``DisentangleError`` when the embedder identity (model, dim, normalized) differs
    from the one the SAE was trained on, or ``dim`` differs from the SAE's input size: its
    features would be meaningless there. Encoding a *different corpus* with the same embedder
    is legitimate (that is how new documents are explained), so it is not an error: the
    return value is False when ``corpus_hash`` is given and differs from the training corpus,
    True otherwise, and the caller decides whether to warn.
    """
    trained = meta.get("provenance", {}).get("embedder")
    if trained is None:
        raise DisentangleError("SAE metadata has no embedder identity; retrain the SAE")
    for key in ("model", "dim", "normalized"):
        if trained.get(key) != embedder_identity.get(key):
            raise DisentangleError(
                f"SAE was trained on {key}={trained.get(key)!r} embeddings but these have "
                f"{key}={embedder_identity.get(key)!r}; use an SAE trained with this embedder"
            )
    if embedder_identity.get("dim") != meta["sae"]["d"]:
        raise DisentangleError(
            f"SAE input size is {meta['sae']['d']} but embeddings have dim "
            f"{embedder_identity.get('dim')}; use an SAE trained with this embedder"
        )
    return corpus_hash is None or corpus_hash == meta["provenance"].get("corpus_hash")
