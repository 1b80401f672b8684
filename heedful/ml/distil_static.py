"""Distil static word-piece embeddings from the int8 MiniLM ONNX model (``heedful ml build``).

A model2vec-style table, made with onnxruntime and numpy only (no torch, no model2vec):

1. every word piece of the tokenizer's vocabulary is run *alone* through the ONNX model as
   ``[CLS] piece [SEP]`` and the three output vectors are averaged (mean pooling, as MiniLM's
   sentence embedding does);
2. the rows are centred on the mean of the real word pieces (``[PAD]``, ``[unusedN]`` and the
   other bracketed specials are left out of the mean): every raw row shares a large common
   direction that carries no meaning;
3. each row is scaled by a Zipf weight, ``log(2 + rank)``, where the rank is the vocabulary id
   (BERT's word pieces are numbered roughly by frequency), so frequent pieces such as "the"
   count less in a sentence's mean;
4. stored as int8 with one float32 scale per row (symmetric, ``max |x| / 127``).

Each piece runs in its own batch of one on one thread because the ONNX model quantises its
activations per tensor at run time: batching pieces together would make a row depend on its
batch mates. So the same ONNX file and tokenizer always give the same table; ``table_sha256``
(over the int8 rows and the scales) is recorded in the artefact to show it.

A sentence's static embedding is then the mean of its word pieces' rows, L2-normalised
(:class:`heedful.ml.encoders.StaticEncoder`): a table look-up instead of a transformer pass.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from heedful.ml import paths
from heedful.ml.paths import file_sha256
from heedful.ml.persist import save_artefact

ARTEFACT_KIND = "static-embeddings"
# Bumped when the recipe above changes, so that `heedful ml build` distils again.
METHOD = "minilm-onnx-alone-mean/centre-real/zipf-log2rank/int8-row/v1"

Echo = Callable[[str], None]


def table_sha256(table: npt.NDArray[np.int8], scale: npt.NDArray[np.float32]) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(table, dtype=np.int8).tobytes())
    digest.update(np.ascontiguousarray(scale, dtype="<f4").tobytes())
    return digest.hexdigest()


def raw_rows(
    onnx_path: Path, tokenizer_json: str, ids: Sequence[int], echo: Echo | None = None
) -> npt.NDArray[np.float32]:
    """Mean-pooled ONNX output of ``[CLS] piece [SEP]`` for each vocabulary id in ``ids``."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        raise ValueError("the tokenizer has no [CLS]/[SEP] tokens; is it a BERT word-piece tokenizer?")
    options = ort.SessionOptions()
    # One thread: reductions split across threads could differ in the last bit between runs.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    mask = np.ones((1, 3), dtype=np.int64)
    types = np.zeros((1, 3), dtype=np.int64)
    feed_ids = np.zeros((1, 3), dtype=np.int64)
    feed_ids[0, 0], feed_ids[0, 2] = cls_id, sep_id
    out: npt.NDArray[np.float32] | None = None
    started = time.perf_counter()
    for row, piece in enumerate(ids):
        feed_ids[0, 1] = piece
        hidden = session.run(None, {"input_ids": feed_ids, "attention_mask": mask, "token_type_ids": types})
        pooled = np.asarray(hidden[0][0], dtype=np.float32).mean(axis=0)
        if out is None:
            out = np.zeros((len(ids), pooled.shape[0]), dtype=np.float32)
        out[row] = pooled
        if echo is not None and row and row % 5000 == 0:
            echo(f"static: {row}/{len(ids)} word pieces in {time.perf_counter() - started:.0f} s")
    if out is None:
        raise ValueError("no word pieces to distil")
    return out


def post_process(
    raw: npt.NDArray[np.float32], pieces: Sequence[str], ranks: Sequence[int]
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Centre, Zipf-weight and quantise raw rows (steps 2-4 of the module docstring)."""
    table, scale, _ = _post_process(raw, pieces, ranks)
    return table, scale


def _post_process(
    raw: npt.NDArray[np.float32], pieces: Sequence[str], ranks: Sequence[int]
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32], float]:
    real = np.array([not (p.startswith("[") and p.endswith("]")) for p in pieces], dtype=bool)
    centre = raw[real].mean(axis=0, dtype=np.float64) if real.any() else np.zeros(raw.shape[1])
    rows = raw.astype(np.float64) - centre
    rows *= np.log(2.0 + np.asarray(ranks, dtype=np.float64))[:, None]
    peak = np.abs(rows).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    table = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8)
    # How much int8 costs: the lowest cosine between a row and its quantised copy.
    restored = table.astype(np.float64) * scale[:, None]
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(restored, axis=1)
    live = norms > 0
    cosines = (rows * restored).sum(axis=1)[live] / norms[live]
    return table, scale, float(cosines.min()) if len(cosines) else 1.0


def distil(
    model_dir: Path, *, limit: int | None = None, echo: Echo | None = None
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Meta and arrays of the static table for the ONNX model in ``model_dir``.

    ``limit`` distils only the first ``limit`` vocabulary ids (for tests; rows after it are 0).
    """
    onnx_path = model_dir / paths.MINILM_ONNX
    tokenizer_path = model_dir / paths.MINILM_TOKENIZER
    tokenizer_json = tokenizer_path.read_text(encoding="utf-8")
    from tokenizers import Tokenizer

    vocab = Tokenizer.from_str(tokenizer_json).get_vocab(with_added_tokens=True)
    size = max(vocab.values()) + 1
    pieces = [""] * size
    for piece, i in vocab.items():
        pieces[i] = piece
    n = size if limit is None else min(limit, size)
    started = time.perf_counter()
    raw = raw_rows(onnx_path, tokenizer_json, range(n), echo)
    table, scale, int8_cosine = _post_process(raw, pieces[:n], range(n))
    if n < size:
        table = np.vstack([table, np.zeros((size - n, table.shape[1]), dtype=np.int8)])
        scale = np.concatenate([scale, np.ones(size - n, dtype=np.float32)])
    meta: dict[str, Any] = {
        "method": METHOD,
        "source_onnx": paths.MINILM_ONNX,
        "source_onnx_sha256": file_sha256(onnx_path),
        "tokenizer_sha256": hashlib.sha256(tokenizer_json.encode("utf-8")).hexdigest(),
        "table_sha256": table_sha256(table, scale),
        "vocabulary": size,
        "distilled": n,
        "dim": int(table.shape[1]),
        "dtype": "int8 + float32 scale per row",
        "int8_min_row_cosine": round(int8_cosine, 6),
        "seconds": round(time.perf_counter() - started, 1),
    }
    arrays: dict[str, npt.NDArray[Any]] = {
        "table": table,
        "scale": scale,
        "tokenizer": np.frombuffer(tokenizer_json.encode("utf-8"), dtype=np.uint8),
    }
    return meta, arrays


def build(model_dir: Path, echo: Echo, *, force: bool = False) -> bool:
    """Write the static table next to the ONNX model unless it is already built from it."""
    from heedful.ml.encoders import minilm_available, static_meta

    target = model_dir / paths.STATIC_TABLE
    if not minilm_available(model_dir):
        echo("static: skipped, needs the MiniLM ONNX model (built by `heedful ml build --onnx`)")
        return target.is_file()
    current = static_meta(model_dir)
    if (
        not force
        and current is not None
        and current.get("method") == METHOD
        and current.get("source_onnx_sha256") == file_sha256(model_dir / paths.MINILM_ONNX)
        and current.get("distilled") == current.get("vocabulary")
    ):
        echo(f"static: up to date ({target}, table sha256 {current['table_sha256'][:12]})")
        return True
    echo("static: distilling word-piece embeddings from the ONNX model (2-3 minutes on 2 cores) ...")
    meta, arrays = distil(model_dir, echo=echo)
    save_artefact(target, ARTEFACT_KIND, meta, arrays)
    meta["bytes"] = target.stat().st_size
    echo(
        f"static: {meta['vocabulary']} x {meta['dim']} int8 in {meta['seconds']:.0f} s, "
        f"{meta['bytes'] / 1e6:.1f} MB, table sha256 {meta['table_sha256'][:12]} -> {target}"
    )
    return True
