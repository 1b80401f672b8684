"""Sentence encoders behind one interface, chosen by a setting.

* ``tfidf``: word + char n-gram TF-IDF (:mod:`heedful.ml.text`), fitted on the caller's texts; needs
  nothing beyond numpy (scipy for batches).
* ``minilm``: all-MiniLM-L6-v2 exported once to int8 ONNX (``heedful ml build``), run with
  onnxruntime + tokenizers; no torch at run time.
* ``hybrid``: both, concatenated (the default when the ONNX file is built).

``HEEDFUL_TEXT_ENCODER`` (``auto`` | ``tfidf`` | ``minilm`` | ``hybrid``) picks one;
``auto`` means ``hybrid`` when the ONNX artefact exists, else ``tfidf``.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from heedful.ml import paths

ENCODER_NAMES = ("auto", "tfidf", "minilm", "hybrid")
MAX_TOKENS = 128


class EncoderUnavailable(RuntimeError):
    """The requested encoder's artefact or library is not installed."""


def minilm_available(model_dir: Path | None = None) -> bool:
    base = model_dir or paths.model_dir()
    return (base / paths.MINILM_ONNX).is_file() and (base / paths.MINILM_TOKENIZER).is_file()


def resolve_encoder_name(name: str | None = None) -> str:
    """Turn ``None``/``auto`` into a concrete encoder name using the setting and what is built."""
    chosen = (name or os.environ.get("HEEDFUL_TEXT_ENCODER", "auto")).strip().lower()
    if chosen not in ENCODER_NAMES:
        raise ValueError(f"unknown encoder {chosen!r}; choose one of {', '.join(ENCODER_NAMES)}")
    if chosen == "auto":
        return "hybrid" if minilm_available() else "tfidf"
    if chosen in ("minilm", "hybrid") and not minilm_available():
        raise EncoderUnavailable(
            f"encoder {chosen!r} needs {paths.MINILM_ONNX} in {paths.model_dir()}; "
            "run `heedful ml build --onnx` (needs the build extra) or use encoder 'tfidf'."
        )
    return chosen


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (int8 ONNX): text -> L2-normalised 384-d float32 embedding."""

    dim = 384

    def __init__(self, model_dir: Path | None = None, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        base = model_dir or paths.model_dir()
        if not minilm_available(base):
            raise EncoderUnavailable(f"no MiniLM ONNX artefact in {base}; run `heedful ml build`")
        self.tokenizer = Tokenizer.from_file(str(base / paths.MINILM_TOKENIZER))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        n_threads = threads or int(os.environ.get("HEEDFUL_ML_THREADS", "0") or 0)
        options.intra_op_num_threads = n_threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        if os.environ.get("HEEDFUL_ML_SPIN", "1").strip() == "0":
            # Busy-waiting worker threads lose badly when other processes share the cores
            # (docs/model-cards/minilm-onnx.md); HEEDFUL_ML_SPIN=0 makes them sleep instead.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(base / paths.MINILM_ONNX), options, providers=["CPUExecutionProvider"]
        )
        self.version = "all-MiniLM-L6-v2-int8"
        # One message is often embedded twice in a row (FAQ match, then sentiment): remember the
        # last few single-text embeddings. Read-only arrays so a caller cannot corrupt the cache.
        self._encode_one = functools.lru_cache(maxsize=256)(self._encode_one_uncached)

    def _encode_one_uncached(self, text: str) -> npt.NDArray[np.float32]:
        vector: npt.NDArray[np.float32] = self.encode([text])[0]
        vector.setflags(write=False)
        return vector

    def encode_one(self, text: str) -> npt.NDArray[np.float32]:
        """Embedding of one text (cached for the last 256 texts; the array is read-only)."""
        result: npt.NDArray[np.float32] = self._encode_one(text)
        return result

    def encode(self, texts: list[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        from heedful.ml.text import clean

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sort by length so batches pad little; results go back to the input order.
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            encs = self.tokenizer.encode_batch([clean(texts[i]) or "." for i in chunk])
            width = max(len(e.ids) for e in encs)
            ids = np.zeros((len(encs), width), dtype=np.int64)
            mask = np.zeros((len(encs), width), dtype=np.int64)
            for row, enc in enumerate(encs):
                ids[row, : len(enc.ids)] = enc.ids
                mask[row, : len(enc.ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[chunk] = pooled
        return out


_SHARED: dict[str, Any] = {}
_LOCK = threading.Lock()


def shared_minilm(model_dir: Path | None = None) -> MiniLMEncoder:
    """One MiniLM session per process and model directory (loading costs ~0.3 s)."""
    key = str(model_dir or paths.model_dir())
    with _LOCK:
        if key not in _SHARED:
            _SHARED[key] = MiniLMEncoder(Path(key))
        encoder: MiniLMEncoder = _SHARED[key]
        return encoder
