"""Persist trained models as one file: a JSON header (format version, kind, sha256) + numpy arrays.

No pickle is involved, so loading a file never runs code. The header line carries the sha256 of the
payload; :func:`load_artefact` refuses files whose checksum, kind or format version does not match,
with a message that says what to do (usually: rebuild with ``heedful ml build``).

Layout::

    HEEDFUL-ML\\n
    {"format_version": 1, "kind": "faq-matcher", "sha256": "...", "payload_bytes": 123}\\n
    <payload: an uncompressed .npz; the JSON metadata is stored as the uint8 array "__meta__">
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MAGIC = b"HEEDFUL-ML\n"
FORMAT_VERSION = 1


class ArtefactError(ValueError):
    """A persisted model is missing, tampered with, or from an incompatible version."""


def save_artefact(
    path: str | Path,
    kind: str,
    meta: dict[str, Any],
    arrays: dict[str, npt.NDArray[Any]],
) -> str:
    """Write ``meta`` (JSON-serialisable) and ``arrays`` to ``path``; return the payload sha256."""
    buffer = io.BytesIO()
    meta_bytes = json.dumps(meta, sort_keys=True, ensure_ascii=False).encode("utf-8")
    payload_arrays = {name: np.ascontiguousarray(arr) for name, arr in sorted(arrays.items())}
    payload_arrays["__meta__"] = np.frombuffer(meta_bytes, dtype=np.uint8)
    np.savez(buffer, **payload_arrays)  # type: ignore[arg-type]
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    header = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "sha256": digest,
        "payload_bytes": len(payload),
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(MAGIC)
        handle.write(json.dumps(header, sort_keys=True).encode("ascii") + b"\n")
        handle.write(payload)
    tmp.replace(target)
    return digest


def load_artefact(path: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]], str]:
    """Read a file written by :func:`save_artefact`; return ``(meta, arrays, sha256)``."""
    source = Path(path)
    if not source.is_file():
        raise ArtefactError(f"{source}: no such model file; run `heedful ml build` first.")
    data = source.read_bytes()
    if not data.startswith(MAGIC):
        raise ArtefactError(f"{source}: not a heedful model file (bad magic bytes).")
    end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC) : end])
    except ValueError as exc:
        raise ArtefactError(f"{source}: unreadable header ({exc}).") from exc
    if header.get("format_version") != FORMAT_VERSION:
        raise ArtefactError(
            f"{source}: format version {header.get('format_version')!r}, this code reads "
            f"{FORMAT_VERSION}; rebuild the model."
        )
    if header.get("kind") != kind:
        raise ArtefactError(f"{source}: holds a {header.get('kind')!r}, expected {kind!r}.")
    payload = data[end + 1 :]
    digest = hashlib.sha256(payload).hexdigest()
    if len(payload) != header.get("payload_bytes") or digest != header.get("sha256"):
        raise ArtefactError(f"{source}: checksum mismatch, the file was modified or truncated.")
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    return meta, arrays, digest
