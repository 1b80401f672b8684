"""The int8 MiniLM gives the same vectors on a processor without VNNI as on this one.

onnxruntime multiplies int8 weights on AVX2-only processors with an instruction that saturates
at 16 bits; with 8-bit weights the shipped file gave other embeddings there (cosine down to
0.958), so every figure built on it depended on the machine. The export now keeps weights in
7 bits (heedful/ml/export_onnx.py). This test runs the encoder under QEMU's user-mode emulation
of a Haswell processor (AVX2, no AVX-512, no VNNI) and compares it with the native run.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys

import numpy as np
import pytest

from heedful.ml.encoders import minilm_available, shared_minilm
from heedful.ml.paths import REPO_ROOT

QEMU = shutil.which("qemu-x86_64")

pytestmark = [
    pytest.mark.skipif(
        not minilm_available(), reason="MiniLM ONNX artefact not built (run `heedful ml build`)"
    ),
    pytest.mark.skipif(platform.machine() != "x86_64", reason="compares x86-64 instruction sets"),
    pytest.mark.skipif(QEMU is None, reason="qemu-x86_64 not installed (Debian package qemu-user)"),
]

TEXTS = [
    "where is my refund",
    "I have been waiting for two hours, this is RIDICULOUS!!! cancel my order",
    "¿Dónde está mi paquete? Lo pedí hace una semana.",
    "thanks, great service 🙂",
    "what's the capital of peru",
    " ".join(["still no answer about invoice 4471"] * 12),
]

RUN = """
import json, sys
from heedful.ml.encoders import MiniLMEncoder
from numpy._core._multiarray_umath import __cpu_features__ as cpu
encoder = MiniLMEncoder(threads=1)
vectors, layers = encoder._run(json.loads(sys.argv[1]), with_layers=True)
print(json.dumps({
    "vnni": bool(cpu.get("AVX512_VNNI")), "avx2": bool(cpu.get("AVX2")),
    "vectors": vectors.tolist(), "layers": layers.tolist(),
}))
"""


def _run(prefix: list[str]) -> dict[str, object]:
    result = subprocess.run(
        [*prefix, sys.executable, "-c", RUN, json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        timeout=300,
        env=os.environ | {"OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)},
    )
    out: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_a_processor_without_vnni_computes_the_same_embeddings() -> None:
    emulated = _run([str(QEMU), "-cpu", "Haswell"])
    assert emulated["avx2"] is True
    assert emulated["vnni"] is False  # else the comparison below would prove nothing
    native = _run([])

    for key in ("vectors", "layers"):
        there = np.array(emulated[key], dtype=np.float32)
        here = np.array(native[key], dtype=np.float32)
        assert there.shape == here.shape
        # Float kernels differ in rounding between AVX2 and AVX-512 (seen: at most 5e-7);
        # the 8-bit file differed by up to 0.06 here.
        assert float(np.abs(there - here).max()) < 1e-5, key

    # And the in-process encoder agrees with the native subprocess (same file, same thread count).
    assert np.allclose(shared_minilm().encode(TEXTS), np.array(native["vectors"]), atol=1e-5)
