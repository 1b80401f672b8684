"""Sentence encoders behind one interface, chosen by a setting.

* ``tfidf``: word + char n-gram TF-IDF (:mod:`heedful.ml.text`), fitted on the caller's texts; needs
  nothing beyond numpy (scipy for batches).
* ``minilm``: all-MiniLM-L6-v2 exported once to int8 ONNX (``heedful ml build``), run with
  onnxruntime + tokenizers; no torch at run time.
* ``hybrid``: both, concatenated (the default when the ONNX file is built).
* ``static``: TF-IDF plus static word-piece embeddings distilled from the ONNX model
  (:mod:`heedful.ml.distil_static`): a sentence is the mean of its pieces' rows, a table look-up
  instead of a transformer pass. The hybrid matcher and the sentiment model use it in their fast
  first pass when the table is built.

``HEEDFUL_TEXT_ENCODER`` (``auto`` | ``tfidf`` | ``static`` | ``minilm`` | ``hybrid``) picks
one; ``auto`` means ``hybrid`` when the ONNX artefact exists, else ``static`` when the static
table exists, else ``tfidf``.
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
from heedful.ml.text import WordCache, looked_at

ENCODER_NAMES = ("auto", "tfidf", "static", "minilm", "hybrid")
MAX_TOKENS = 128
STATIC_KIND = "static-embeddings"  # persist kind of the table (heedful.ml.distil_static)
# The MiniLM file's second output (heedful/ml/export_onnx.py): every layer's mean token state.
LAYERS_OUTPUT = "layer_means"
LAYERS = 6
LAYERS_MISSING = (
    "the MiniLM model file was exported without its layer output; run `heedful ml build` to export it again"
)


class EncoderUnavailable(RuntimeError):
    """The requested encoder's artefact or library is not installed."""


class WordPieces:
    """Word-piece ids of a cleaned text (no special tokens), remembered per space-separated word.

    The tokenizers library costs ~0.1 ms per call on a short message, more than the static
    embedding look-up it feeds. Its BERT normaliser works character by character and its
    pre-tokenizer always splits at a space, so a text's pieces are its words' pieces in order:
    a dictionary of words (they recur) replaces nearly every call. ``tests/ml`` checks that this
    equals the tokenizer on whole texts.
    """

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self._pieces = WordCache(self._pieces_of)

    def ids(self, cleaned: str) -> list[int]:
        out: list[int] = []
        pieces = self._pieces
        for word in cleaned.split(" "):
            out.extend(pieces(word))
        return out

    def _pieces_of(self, word: str) -> tuple[int, ...]:
        return tuple(self.tokenizer.encode(word, add_special_tokens=False).ids)


def minilm_available(model_dir: Path | None = None) -> bool:
    base = model_dir or paths.model_dir()
    return (base / paths.MINILM_ONNX).is_file() and (base / paths.MINILM_TOKENIZER).is_file()


def minilm_has_layers(model_dir: Path | None = None) -> bool:
    """Whether the MiniLM file in ``model_dir`` gives every layer's mean (files exported before
    session 9 give the last layer only)."""
    base = model_dir or paths.model_dir()
    return minilm_available(base) and shared_minilm(base).has_layers


def static_available(model_dir: Path | None = None) -> bool:
    return ((model_dir or paths.model_dir()) / paths.STATIC_TABLE).is_file()


def static_meta(model_dir: Path | None = None) -> dict[str, Any] | None:
    """Metadata of the built static table (method, checksums, size), or None if there is none
    or it does not verify."""
    from heedful.ml.persist import ArtefactError, load_artefact

    path = (model_dir or paths.model_dir()) / paths.STATIC_TABLE
    if not path.is_file():
        return None
    try:
        meta, _, _ = load_artefact(path, STATIC_KIND)
    except ArtefactError:
        return None
    return meta


def resolve_encoder_name(name: str | None = None) -> str:
    """Turn ``None``/``auto`` into a concrete encoder name using the setting and what is built."""
    chosen = (name or os.environ.get("HEEDFUL_TEXT_ENCODER", "auto")).strip().lower()
    if chosen not in ENCODER_NAMES:
        raise ValueError(f"unknown encoder {chosen!r}; choose one of {', '.join(ENCODER_NAMES)}")
    if chosen == "auto":
        return "hybrid" if minilm_available() else "static" if static_available() else "tfidf"
    if chosen == "static" and not static_available():
        raise EncoderUnavailable(
            f"encoder 'static' needs {paths.STATIC_TABLE} in {paths.model_dir()}; "
            "run `heedful ml build` (distils it from the MiniLM ONNX model) or use encoder 'tfidf'."
        )
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

        from heedful.ml.paths import file_sha256

        base = model_dir or paths.model_dir()
        if not minilm_available(base):
            raise EncoderUnavailable(f"no MiniLM ONNX artefact in {base}; run `heedful ml build`")
        self.tokenizer = Tokenizer.from_file(str(base / paths.MINILM_TOKENIZER))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.pieces = WordPieces(self.tokenizer)
        cls_id, sep_id = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")
        if cls_id is None or sep_id is None:
            raise EncoderUnavailable(f"the tokenizer in {base} has no [CLS]/[SEP] tokens")
        self._cls, self._sep = cls_id, sep_id
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
        # Which file this is: a model trained on another export's vectors (an older heedful's
        # 8-bit weights, say) must not be fed this one's (see ``installed_minilm``).
        self.file_sha256 = file_sha256(base / paths.MINILM_ONNX)
        # Files exported before the layer output existed still give the sentence embedding.
        self.has_layers = LAYERS_OUTPUT in {o.name for o in self.session.get_outputs()}
        # One message is often embedded twice in a row (FAQ match, then sentiment): remember the
        # last few single-text embeddings. Read-only arrays so a caller cannot corrupt the cache.
        self._encode_one = functools.lru_cache(maxsize=256)(self._encode_one_uncached)

    def _encode_one_uncached(
        self, text: str
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
        # Both outputs in the one run: the layers cost six means of what is computed anyway.
        vectors, layers = self._run([text], with_layers=self.has_layers)
        vector = vectors[0]
        vector.setflags(write=False)
        layer_vector = None if layers is None else layers[0]
        if layer_vector is not None:
            layer_vector.setflags(write=False)
        return vector, layer_vector

    def encode_one(self, text: str) -> npt.NDArray[np.float32]:
        """Embedding of one text (cached for the last 256 texts; the array is read-only)."""
        return self._encode_one(looked_at(text))[0]

    def encode_layers_one(self, text: str) -> npt.NDArray[np.float32]:
        """``encode_layers`` of one text, from the same cache as ``encode_one``."""
        layers = self._encode_one(looked_at(text))[1]
        if layers is None:
            raise EncoderUnavailable(LAYERS_MISSING)
        return layers

    def token_ids(self, cleaned: str) -> list[int]:
        """What ``self.tokenizer`` gives a cleaned text: [CLS], its pieces cut to fit
        ``MAX_TOKENS``, [SEP]."""
        return [self._cls, *self.pieces.ids(cleaned)[: MAX_TOKENS - 2], self._sep]

    def encode(self, texts: list[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        """L2-normalised sentence embeddings, (n, 384)."""
        return self._run(texts, batch_size)[0]

    def encode_layers(self, texts: list[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        """Each of the six layers' mean token state, L2-normalised, side by side: (n, 6 * 384).

        The last block is the sentence embedding. Needs a model file exported with the layer
        output (``heedful ml build`` re-exports an older one)."""
        if not self.has_layers:
            raise EncoderUnavailable(LAYERS_MISSING)
        layers = self._run(texts, batch_size, with_layers=True)[1]
        assert layers is not None  # noqa: S101 - asked for above
        return layers

    def _run(
        self, texts: list[str], batch_size: int = 64, *, with_layers: bool = False
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
        from heedful.ml.text import clean

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        layers_out = np.zeros((len(texts), LAYERS * self.dim), dtype=np.float32) if with_layers else None
        fetch = ["last_hidden_state", LAYERS_OUTPUT] if with_layers else ["last_hidden_state"]
        # Sort by length so batches pad little; results go back to the input order.
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            encs = [self.token_ids(clean(texts[i]) or ".") for i in chunk]
            width = max(len(e) for e in encs)
            ids = np.zeros((len(encs), width), dtype=np.int64)
            mask = np.zeros((len(encs), width), dtype=np.int64)
            for row, enc in enumerate(encs):
                ids[row, : len(enc)] = enc
                mask[row, : len(enc)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            fetched = self.session.run(fetch, feeds)
            hidden = fetched[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[chunk] = pooled
            if layers_out is not None:
                means = fetched[1]  # (batch, 6, 384), already masked means
                means = means / np.maximum(np.linalg.norm(means, axis=2, keepdims=True), 1e-12)
                layers_out[chunk] = means.reshape(len(chunk), -1)
        return out, layers_out


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


class StaticEncoder:
    """Static word-piece embeddings: text -> L2-normalised mean of its pieces' rows (float32).

    The table (int8 rows, one float32 scale each, and the tokenizer) is one verified artefact,
    ``paths.STATIC_TABLE``; ``table_sha256`` identifies it so that models trained on it can
    check at load time that they get the same table.
    """

    def __init__(self, model_dir: Path | None = None):
        from tokenizers import Tokenizer

        from heedful.ml.persist import load_artefact

        path = (model_dir or paths.model_dir()) / paths.STATIC_TABLE
        if not path.is_file():
            raise EncoderUnavailable(f"no static table {path}; run `heedful ml build`")
        meta, arrays, _ = load_artefact(path, STATIC_KIND)
        self.table: npt.NDArray[np.int8] = arrays["table"]
        self.scale: npt.NDArray[np.float32] = arrays["scale"].astype(np.float32)
        self.dim = int(self.table.shape[1])
        self.table_sha256 = str(meta["table_sha256"])
        self.meta = meta
        self.tokenizer = Tokenizer.from_str(arrays["tokenizer"].tobytes().decode("utf-8"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.pieces = WordPieces(self.tokenizer)
        self.version = f"static-{self.table_sha256[:12]}"
        self._encode_one = functools.lru_cache(maxsize=256)(self._encode_one_uncached)

    def _ids(self, cleaned: list[str]) -> list[list[int]]:
        return [self.pieces.ids(text) for text in cleaned]

    def _pool(self, ids: list[int]) -> npt.NDArray[np.float32]:
        if not ids:
            return np.zeros(self.dim, dtype=np.float32)
        rows = np.asarray(ids, dtype=np.int64)
        # The scaled rows' mean as one vector-matrix product (cheaper than scaling, then mean).
        vector = (self.scale[rows] @ self.table[rows].astype(np.float32)) / np.float32(len(rows))
        norm = float(np.linalg.norm(vector))
        result: npt.NDArray[np.float32] = vector / np.float32(norm) if norm > 0 else vector
        return result

    def _encode_one_uncached(self, text: str) -> npt.NDArray[np.float32]:
        from heedful.ml.text import clean

        vector = self._pool(self.pieces.ids(clean(text)))
        vector.setflags(write=False)
        return vector

    def encode_one(self, text: str) -> npt.NDArray[np.float32]:
        """Embedding of one text (cached for the last 256 texts; the array is read-only)."""
        result: npt.NDArray[np.float32] = self._encode_one(looked_at(text))
        return result

    def encode(self, texts: list[str], batch_size: int = 1024) -> npt.NDArray[np.float32]:
        from heedful.ml.text import clean

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            for row, ids in enumerate(self._ids([clean(t) for t in chunk])):
                out[start + row] = self._pool(ids)
        return out


def shared_static(model_dir: Path | None = None) -> StaticEncoder:
    """One static table per process and model directory."""
    key = "static:" + str(model_dir or paths.model_dir())
    with _LOCK:
        if key not in _SHARED:
            _SHARED[key] = StaticEncoder(Path(key.removeprefix("static:")))
        encoder: StaticEncoder = _SHARED[key]
        return encoder


def installed_static_table() -> str:
    """table_sha256 of the static table in the model directory, "" when there is none."""
    return shared_static().table_sha256 if static_available() else ""


def installed_minilm() -> str:
    """sha256 of the MiniLM ONNX file in the model directory, "" when there is none.

    Models that learned from its vectors (FAQ matchers, the sentiment model) record it: the same
    weights fed another export's vectors answer differently without any error."""
    return shared_minilm().file_sha256 if minilm_available() else ""
