"""What a training run leaves in its directory, and how a trained SAE is loaded back safely.

Layout of ``out_dir`` (every file written atomically):

- ``config.json``: SAE config, train config, provenance (embedder identity, corpus hash,
  input normalisation) and the train/validation split recipe. Written before the first step,
  so a second run into the same directory can be checked against it.
- ``state.pt``: the full resumable state after the last finished epoch.
- ``metrics.json``: per-epoch metrics history.
- ``model.safetensors``: final weights; its presence marks the run as finished.
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
from disentangle.io import DamagedFile, artifact, atomic_path, checked_read, read_json, write_json
from disentangle.sae.model import SAEConfig, TopKSAE
from disentangle.sae.variants import build_sae

_RETRAIN = "delete {folder} and run `disentangle train --name {sae}` again with its settings"
CONFIG = artifact("config.json", _RETRAIN)
STATE = artifact("state.pt", _RETRAIN)
METRICS = artifact("metrics.json", _RETRAIN)
WEIGHTS = artifact("model.safetensors", _RETRAIN)


def read_config(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / CONFIG
    return read_json(path) if path.exists() else None


def write_config(out_dir: Path, meta: dict[str, Any]) -> None:
    write_json(out_dir / CONFIG, meta)


def write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    write_json(out_dir / METRICS, {"history": history})


def save_state(out_dir: Path, state: dict[str, Any]) -> None:
    with atomic_path(out_dir / STATE) as tmp:
        torch.save(state, tmp)


def load_state(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / STATE
    if not path.exists():
        return None
    return checked_read(path, lambda p: torch.load(p, map_location="cpu", weights_only=True),
                        (RuntimeError, pickle.UnpicklingError))


def save_weights(out_dir: Path, sae: TopKSAE) -> None:
    with atomic_path(out_dir / WEIGHTS) as tmp:
        save_file({name: t.detach().cpu().contiguous() for name, t in sae.state_dict().items()},
                  os.fspath(tmp))


def is_finished(out_dir: Path) -> bool:
    return (out_dir / WEIGHTS).exists()


def load_sae(directory: str | os.PathLike[str], device: str = "cpu") -> tuple[TopKSAE, dict]:
    """The trained SAE (eval mode) and its ``config.json`` metadata, for ``check_compatible``.
    A config without ``architecture`` (written before variants existed) is top-k."""
    directory = Path(directory)
    if not is_finished(directory) or read_config(directory) is None:
        raise DisentangleError(
            f"{directory}: no finished SAE here (missing {WEIGHTS} or {CONFIG}); "
            "train one first or point at the right directory"
        )
    meta = read_config(directory)
    try:
        config = SAEConfig(**meta["sae"])
    except (KeyError, TypeError, ValueError) as error:
        raise DamagedFile(directory / CONFIG, f"no valid SAE config: {error}") from None
    sae = build_sae(config)
    weights = checked_read(directory / WEIGHTS, lambda p: load_file(os.fspath(p)),
                           (SafetensorError,))
    try:
        sae.load_state_dict(weights)
    except RuntimeError as error:  # weights of another shape than config.json describes
        raise DamagedFile(directory / WEIGHTS, f"does not match {CONFIG}: "
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
