"""Where the text engine keeps built artefacts and finds evaluation datasets.

Both are settings read from the environment so that the Django shell, the CLI and the tests agree:

* ``HEEDFUL_MODEL_DIR``: built artefacts (default ``heedful/ml/artifacts/`` inside the package,
  which git ignores: the sentiment model is trained from data that must not be redistributed).
* ``HEEDFUL_DATASETS_DIR``: public evaluation datasets (default ``../shared/datasets`` relative to
  the repository root).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent

MINILM_ONNX = "minilm-l6-v2-int8.onnx"
MINILM_TOKENIZER = "minilm-l6-v2-tokenizer.json"
SENTIMENT_ARTEFACT = "sentiment.hml"
# Static word-piece embeddings distilled from the ONNX model (``heedful ml build``).
STATIC_TABLE = "minilm-l6-v2-static.hml"


def model_dir() -> Path:
    """Directory of built artefacts (``HEEDFUL_MODEL_DIR`` or ``heedful/ml/artifacts``)."""
    value = os.environ.get("HEEDFUL_MODEL_DIR", "").strip()
    return Path(value) if value else PACKAGE_DIR / "artifacts"


def datasets_dir() -> Path:
    """Directory of evaluation datasets (``HEEDFUL_DATASETS_DIR`` or ``../shared/datasets``)."""
    value = os.environ.get("HEEDFUL_DATASETS_DIR", "").strip()
    return Path(value) if value else (REPO_ROOT.parent / "shared" / "datasets").resolve()


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MB blocks (model files and backups are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
