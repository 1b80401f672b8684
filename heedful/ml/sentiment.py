"""Three-class customer sentiment (negative / neutral / positive) with probabilities and reasons.

Model: multinomial logistic regression over the word + char n-gram TF-IDF of :mod:`heedful.ml.text`
plus, when the static table is built, static word-piece embeddings ("fast"), and, when the MiniLM
ONNX encoder is built, a second one over TF-IDF + MiniLM features ("full"). ``analyse_sentiment``
answers with the fast model and escalates to the full one only when the fast model is unsure (top
probability below ``escalate_below``, chosen on the validation split at build time). When
``heedful ml build`` has also fine-tuned MiniLM as a classifier (:mod:`heedful.ml.finetune_sentiment`),
that classifier is the full model instead: unsure tweets (below ``tuned_below``) go to it, and the
TF-IDF + MiniLM regression stays only as the fallback when its file is missing. Trained by
``heedful ml build`` from the airline tweets (see docs/model-cards/sentiment.md); the artefact is
not shipped in git because of the data license.

When the artefact has not been built, :func:`analyse_sentiment` raises :class:`SentimentUnavailable`
with the command to run. It never silently falls back to a different model.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heedful.ml import finetune_sentiment, paths
from heedful.ml.linear import F32, FeatureSpace, LinearSoftmax, embed, softmax
from heedful.ml.persist import ArtefactError, load_artefact, save_artefact
from heedful.ml.text import STOP_WORDS, NgramTfidf, clean

ARTEFACT_KIND = "sentiment"
LABELS = ("negative", "neutral", "positive")


class SentimentUnavailable(RuntimeError):
    """The trained sentiment artefact is missing or unreadable."""


# Which model answered, in words (Sentiment.engine -> explanation).
ENGINES = {
    "tfidf": "the TF-IDF model",
    "tfidf+minilm": "the TF-IDF + MiniLM model",
    "tfidf+minilm-layers": "the TF-IDF + MiniLM layers model",
    "minilm-tuned": "the fine-tuned MiniLM model (words from the TF-IDF model)",
}


@dataclass(frozen=True)
class Sentiment:
    label: str
    probabilities: dict[str, float]
    top_words: tuple[tuple[str, float], ...]  # words pushing towards ``label``, with weights
    model: str  # "fast" or "full" (the escalated path, whichever model that is)
    model_version: str
    engine: str = "tfidf"  # a key of ENGINES: which model answered

    @property
    def explanation(self) -> str:
        words = ", ".join(f"{w!r}" for w, _ in self.top_words) or "no telling words"
        answered = ENGINES[self.engine]
        return f"{self.label} ({self.probabilities[self.label]:.0%}); words: {words}; by {answered}"


class TunedClassifier:
    """The fine-tuned MiniLM classifier (int8 ONNX written by :mod:`heedful.ml.finetune_sentiment`).

    Token ids come from the MiniLM encoder's tokenizer handling (the same tokenizer file the
    fine-tune used, on the same cleaned text), so a text is tokenized one way everywhere.
    """

    def __init__(self, path: Path, labels: Sequence[str], classes: Sequence[str]):
        import onnxruntime as ort

        from heedful.ml.encoders import shared_minilm

        self.encoder = shared_minilm()
        # Logit columns in the order of the sentiment model's classes.
        self.order = [list(labels).index(c) for c in classes]
        options = ort.SessionOptions()
        # One thread, no pool: the classifier runs for the unsure few, and a pool of its own
        # busy-waits after every run beside the sentence encoder's and starves it (triage in one
        # process fell from ~430 to 180 messages/s with two 2-thread sessions; 310-340 with this).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def logits(self, texts: Sequence[str]) -> F32:
        """Logits, one text per run: int8 dynamic quantisation scales activations over the whole
        batch, so batch mates (and their padding) would change a text's answer."""
        out = np.zeros((len(texts), len(self.order)), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = np.asarray([self.encoder.token_ids(clean(text) or ".")], dtype=np.int64)
            feeds = {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids),
            }
            out[row] = self.session.run(None, feeds)[0][0, self.order]
        return out


def finetune_rows(train_rows: Sequence[tuple[str, str]], val_rows: Sequence[tuple[str, str]]) -> str:
    """The fine-tune's input (JSON text; its sha256 ties the classifier to these rows)."""

    def cleaned(rows: Sequence[tuple[str, str]]) -> list[list[str]]:
        return [[clean(t) or ".", lab] for t, lab in rows]

    labels = sorted({lab for _, lab in train_rows})
    return json.dumps(
        {"labels": labels, "train": cleaned(train_rows), "val": cleaned(val_rows)}, sort_keys=True
    )


def built_tuned(
    model_dir: Path, train_rows: Sequence[tuple[str, str]], val_rows: Sequence[tuple[str, str]]
) -> dict[str, Any] | None:
    """The report of the fine-tuned classifier in ``model_dir`` if it was fine-tuned on exactly
    these rows (else None: a classifier tuned on other data must not answer for this one)."""
    report_path = model_dir / finetune_sentiment.REPORT_NAME
    if not (report_path.is_file() and (model_dir / finetune_sentiment.ONNX_NAME).is_file()):
        return None
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    rows_sha = hashlib.sha256(finetune_rows(train_rows, val_rows).encode("utf-8")).hexdigest()
    return report if report.get("rows_sha256") == rows_sha else None


@dataclass
class SentimentModel:
    tfidf: NgramTfidf
    fast: LinearSoftmax
    full: LinearSoftmax | None
    escalate_below: float
    version: str
    metrics: dict[str, Any]
    # table_sha256 of the static table the fast model's dense block was fitted on; "" when the
    # fast model is TF-IDF only.
    fast_static: str = ""
    # The fine-tuned classifier, when built: it replaces ``full`` on the escalated path.
    tuned: TunedClassifier | None = None
    tuned_below: float = 0.0
    tuned_meta: dict[str, Any] | None = None  # sha256, labels (kept when the file is missing)
    # The full model reads all six MiniLM layers' means, not only the sentence embedding.
    full_layers: bool = False
    # sha256 of the MiniLM file the full model learned from ("" for models saved before it was
    # recorded): another file's vectors would be read by weights not fitted on them.
    minilm_model: str = ""

    def _fast_dense(self, texts: list[str]) -> F32 | None:
        return FeatureSpace(self.tfidf, "static").dense(texts) if self.fast_static else None

    def _full_dense(self, texts: list[str]) -> F32:
        return full_features(texts, layers=self.full_layers)

    @property
    def _full_engine(self) -> str:
        return "tfidf+minilm-layers" if self.full_layers else "tfidf+minilm"

    def analyse(self, text: str, *, mode: str = "auto") -> Sentiment:
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        if mode not in ("auto", "fast", "full"):
            raise ValueError("mode must be auto, fast or full")
        if not clean(text):
            probs = {"negative": 0.0, "neutral": 1.0, "positive": 0.0}
            return Sentiment("neutral", probs, (), "fast", self.version)
        idx, val = self.tfidf.vector(text)
        fast_dense = self._fast_dense([text])
        p = softmax(self.fast.logits_one(idx, val, None if fast_dense is None else fast_dense[0]))
        used, model, engine = "fast", self.fast, "tfidf"
        escalate = mode == "full" or (mode == "auto" and p.max() < self._threshold())
        if escalate and self.tuned is not None:
            # No word weights of its own: the words are the TF-IDF model's for the tuned label.
            p = softmax(self.tuned.logits([text])[0])
            used, engine = "full", "minilm-tuned"
        elif escalate and self.full is not None:
            dense = self._full_dense([text])
            p = softmax(self.full.logits_one(idx, val, dense[0]))
            used, model, engine = "full", self.full, self._full_engine
        best = int(p.argmax())
        probs = {label: round(float(p[i]), 4) for i, label in enumerate(model.classes)}
        words = self._top_words(idx, val, model, best)
        return Sentiment(model.classes[best], probs, words, used, self.version, engine)

    def _threshold(self) -> float:
        """Escalation threshold of the full path in use (fine-tuned, else TF-IDF + MiniLM)."""
        return self.tuned_below if self.tuned is not None else self.escalate_below

    def predict(self, texts: Sequence[str], *, mode: str = "auto") -> list[str]:
        """Labels for many texts (batched; used by the evaluation)."""
        items = list(texts)
        sparse = self.tfidf.transform(items)
        p = softmax(self.fast.logits_batch(sparse, self._fast_dense(items)))
        if (self.full is not None or self.tuned is not None) and mode != "fast":
            pick = np.ones(len(items), bool) if mode == "full" else p.max(1) < self._threshold()
            if pick.any():
                rows = np.where(pick)[0]
                picked = [items[i] for i in rows]
                if self.tuned is not None:
                    p[rows] = softmax(self.tuned.logits(picked))
                elif self.full is not None:
                    p[rows] = softmax(self.full.logits_batch(sparse[rows], self._full_dense(picked)))
        return [self.fast.classes[i] for i in p.argmax(1)]

    def escalates(self, texts: Sequence[str]) -> Any:
        """Which texts ``mode="auto"`` hands to the full model (a boolean array)."""
        items = list(texts)
        if self.full is None and self.tuned is None:
            return np.zeros(len(items), dtype=bool)
        p = softmax(self.fast.logits_batch(self.tfidf.transform(items), self._fast_dense(items)))
        return p.max(1) < self._threshold()

    def _top_words(
        self, idx: list[int], val: list[float], model: LinearSoftmax, best: int
    ) -> tuple[tuple[str, float], ...]:
        n_word = self.tfidf.n_word
        ids = np.asarray(idx, dtype=np.int64)
        keep = ids < n_word
        ids = ids[keep]
        if not len(ids):
            return ()
        w = model.w_sparse[ids]
        weights = np.asarray(val, dtype=np.float32)[keep] * (w[:, best] - w.mean(axis=1))
        contributions = []
        for i, weight in zip(ids.tolist(), weights.tolist(), strict=True):
            term = self.tfidf.terms[i][2:]
            if weight > 0 and not all(w in STOP_WORDS or not w[0].isalnum() for w in term.split()):
                contributions.append((round(weight, 4), term))
        contributions.sort(key=lambda x: (-x[0], x[1]))
        return tuple((word, weight) for weight, word in contributions[:5])

    def save(self, path: str | Path) -> str:
        tf_meta, tf_arrays = self.tfidf.to_state()
        meta = {
            "tfidf": tf_meta,
            "classes": self.fast.classes,
            "has_full": self.full is not None,
            "escalate_below": self.escalate_below,
            "version": self.version,
            "metrics": self.metrics,
            "fast_static_sha256": self.fast_static,
            "tuned": self.tuned_meta,
            "tuned_below": self.tuned_below,
            "full_layers": self.full_layers,
            "minilm_sha256": self.minilm_model,
        }
        arrays = dict(tf_arrays) | self.fast.to_arrays("fast_")
        if self.full is not None:
            arrays |= self.full.to_arrays("full_")
        return save_artefact(path, ARTEFACT_KIND, meta, arrays)

    @classmethod
    def load(cls, path: str | Path) -> SentimentModel:
        meta, arrays, _ = load_artefact(path, ARTEFACT_KIND)
        tfidf = NgramTfidf.from_state(meta["tfidf"], arrays)
        fast = LinearSoftmax.from_arrays(meta["classes"], arrays, "fast_")
        full = LinearSoftmax.from_arrays(meta["classes"], arrays, "full_") if meta["has_full"] else None
        full_layers = bool(meta.get("full_layers", False))
        minilm_model = str(meta.get("minilm_sha256", ""))
        if full is not None:
            from heedful.ml.encoders import installed_minilm, minilm_available, minilm_has_layers

            if not minilm_available():
                full = None  # stated in the model version below, never silent
                meta["version"] += "+fast-only(no-minilm)"
            elif full_layers and not minilm_has_layers():
                full = None
                meta["version"] += "+fast-only(no-minilm-layers)"
            elif minilm_model and minilm_model != installed_minilm():
                full = None  # until `heedful ml build` retrains it on the installed file
                meta["version"] += "+fast-only(other-minilm)"
        tuned, tuned_meta = None, meta.get("tuned")
        if tuned_meta and full is not None:
            tuned = _load_tuned(Path(path), tuned_meta, meta["classes"])
            if tuned is None:
                fallback = "tfidf+minilm-layers" if full_layers else "tfidf+minilm"
                meta["version"] += f"+no-tuned({fallback})"  # stated, never silent
        fast_static = str(meta.get("fast_static_sha256", ""))
        if fast_static:
            from heedful.ml.encoders import installed_static_table

            installed = installed_static_table()
            if installed != fast_static:
                raise ArtefactError(
                    f"{path}: trained with static table {fast_static[:12]}, installed: "
                    f"{installed[:12] or 'none'}; rebuild with `heedful ml build`"
                )
        return cls(
            tfidf,
            fast,
            full,
            float(meta["escalate_below"]),
            meta["version"],
            meta["metrics"],
            fast_static,
            tuned,
            float(meta.get("tuned_below", 0.0)),
            tuned_meta,
            full_layers,
            minilm_model,
        )


def _load_tuned(path: Path, tuned_meta: dict[str, Any], classes: list[str]) -> TunedClassifier | None:
    """The fine-tuned classifier next to the artefact at ``path``; None when its file is missing
    (the caller says so in the version); an error when it is a different classifier than the
    one the escalation threshold was chosen for."""
    onnx = path.parent / finetune_sentiment.ONNX_NAME
    if not onnx.is_file():
        return None
    found = hashlib.sha256(onnx.read_bytes()).hexdigest()
    if found != tuned_meta["sha256"]:
        raise ArtefactError(
            f"{path}: trained with fine-tuned classifier {tuned_meta['sha256'][:12]}, installed: "
            f"{found[:12]}; rebuild with `heedful ml build`"
        )
    return TunedClassifier(onnx, tuned_meta["labels"], classes)


def train(
    train_rows: Sequence[tuple[str, str]],
    val_rows: Sequence[tuple[str, str]],
    *,
    with_minilm: bool,
    with_static: bool = False,
    grid: Sequence[float] = (2.0, 8.0),
    tuned_dir: Path | None = None,
) -> SentimentModel:
    """Fit fast (and full) models; pick C and the escalation thresholds on ``val_rows``.

    ``with_static``: the fast model also gets the static word-piece embeddings (needs the
    static table; see :mod:`heedful.ml.distil_static`). With MiniLM, a fine-tuned classifier in
    ``tuned_dir`` (default: the model directory) that was fine-tuned on exactly these rows
    becomes the full path (``heedful ml build`` makes it; :func:`built_tuned`)."""
    texts = [t for t, _ in train_rows]
    labels = [lab for _, lab in train_rows]
    val_texts = [t for t, _ in val_rows]
    val_labels = np.array([lab for _, lab in val_rows])
    tfidf = NgramTfidf.fit(texts)
    x = tfidf.transform(texts)
    xv = tfidf.transform(val_texts)

    def best_model(dense: F32 | None, dense_val: F32 | None) -> tuple[LinearSoftmax, float]:
        scored = []
        for c in grid:
            model = LinearSoftmax.fit(x, labels, tfidf.n_features, dense=dense, c=c, max_iter=300)
            p = softmax(model.logits_batch(xv, dense_val))
            acc = float((np.array(model.classes)[p.argmax(1)] == val_labels).mean())
            scored.append((acc, -c, model))
        acc, _, model = max(scored, key=lambda s: (s[0], s[1]))
        return model, acc

    fast_static = ""
    fast_dense = fast_dense_val = None
    if with_static:
        from heedful.ml.encoders import installed_static_table

        fast_static = installed_static_table()
        static_space = FeatureSpace(tfidf, "static")
        fast_dense = _require(static_space.dense(texts))
        fast_dense_val = static_space.dense(val_texts)
    fast, fast_acc = best_model(fast_dense, fast_dense_val)
    metrics: dict[str, Any] = {"val_accuracy_fast": round(fast_acc, 4), "fast_static": bool(fast_static)}
    full, escalate = None, 0.0
    p_fast = softmax(fast.logits_batch(xv, fast_dense_val))
    full_layers = False
    minilm_model = ""
    if with_minilm:
        from heedful.ml.encoders import installed_minilm, minilm_has_layers

        full_layers = minilm_has_layers()
        minilm_model = installed_minilm()
        dense = full_features(texts, layers=full_layers)
        dense_val = full_features(val_texts, layers=full_layers)
        full, full_acc = best_model(dense, dense_val)
        metrics["val_accuracy_full"] = round(full_acc, 4)
        metrics["full_features"] = "tfidf+minilm-layers" if full_layers else "tfidf+minilm"
        p_full = softmax(full.logits_batch(xv, dense_val))
        escalate = _choose_escalation(p_fast, p_full, fast.classes, val_labels)
        metrics["escalate_below"] = escalate
        metrics["val_escalated_share"] = round(float((p_fast.max(1) < escalate).mean()), 4)
    digest = hashlib.sha256(json.dumps(sorted(zip(texts, labels, strict=True))).encode()).hexdigest()
    version = f"sentiment-{'full' if full else 'fast'}-{digest[:12]}"
    if fast_static:
        version += f"+static-{fast_static[:8]}"
    if full_layers:
        version += "+layers"
    model = SentimentModel(
        tfidf,
        fast,
        full,
        escalate,
        version,
        metrics,
        fast_static,
        full_layers=full_layers,
        minilm_model=minilm_model,
    )
    report = built_tuned(tuned_dir or paths.model_dir(), train_rows, val_rows) if full else None
    if report is not None:
        _attach_tuned(model, tuned_dir or paths.model_dir(), report, val_texts, val_labels, p_fast)
    return model


def _attach_tuned(
    model: SentimentModel, base: Path, report: dict[str, Any], val_texts: list[str], y: Any, p_fast: F32
) -> None:
    """Make the fine-tuned classifier the full path, with its own threshold chosen on val."""
    onnx = base / finetune_sentiment.ONNX_NAME
    sha = hashlib.sha256(onnx.read_bytes()).hexdigest()
    model.tuned = TunedClassifier(onnx, report["labels"], model.fast.classes)
    model.tuned_meta = {"sha256": sha, "labels": list(report["labels"])}
    p_tuned = softmax(model.tuned.logits(val_texts))
    model.tuned_below = _choose_escalation(p_fast, p_tuned, model.fast.classes, y)
    classes = np.array(model.fast.classes)
    model.metrics |= {
        "val_accuracy_tuned": round(float((classes[p_tuned.argmax(1)] == y).mean()), 4),
        "tuned_below": model.tuned_below,
        "val_escalated_share_tuned": round(float((p_fast.max(1) < model.tuned_below).mean()), 4),
    }
    model.version += f"+tuned-{sha[:8]}"


def full_features(texts: list[str], *, layers: bool) -> F32:
    """The full model's dense block: the six MiniLM layers' means (each L2-normalised, the
    sentence embedding last), or, for models trained before them, the sentence embedding."""
    from heedful.ml.encoders import shared_minilm

    if not layers:
        return embed("minilm", texts)
    encoder = shared_minilm()
    if len(texts) == 1:
        one: F32 = encoder.encode_layers_one(texts[0])[None, :]
        return one
    many: F32 = encoder.encode_layers(texts)
    return many


def _require(dense: F32 | None) -> F32:
    if dense is None:
        raise RuntimeError("the hybrid feature space returned no embedding")
    return dense


def _choose_escalation(pf: F32, pfull: F32, class_names: list[str], y: Any) -> float:
    """Lowest escalation threshold whose validation accuracy is within 0.3 points of always-full
    (``pf``, ``pfull``: the fast and the full model's validation probabilities)."""
    classes = np.array(class_names)
    target = float((classes[pfull.argmax(1)] == y).mean()) - 0.003
    conf = pf.max(1)
    for threshold in [round(0.5 + 0.05 * k, 2) for k in range(11)]:
        p = np.where((conf < threshold)[:, None], pfull, pf)
        if float((classes[p.argmax(1)] == y).mean()) >= target:
            return threshold
    return 1.01


_CACHE: dict[str, SentimentModel] = {}
_LOCK = threading.Lock()


def load_default(model_dir: Path | None = None) -> SentimentModel:
    """The built sentiment model (cached per process); explains how to build it if missing."""
    path = (model_dir or paths.model_dir()) / paths.SENTIMENT_ARTEFACT
    with _LOCK:
        if str(path) not in _CACHE:
            try:
                _CACHE[str(path)] = SentimentModel.load(path)
            except ArtefactError as exc:
                raise SentimentUnavailable(
                    f"sentiment model unavailable ({exc}). Build it with `heedful ml build` "
                    "(trains from ../shared/datasets/twitter-airline-sentiment)."
                ) from exc
        return _CACHE[str(path)]


def analyse_sentiment(text: str, *, mode: str = "auto", model: SentimentModel | None = None) -> Sentiment:
    """Sentiment of one text; raises SentimentUnavailable when the model is not built."""
    return (model or load_default()).analyse(text, mode=mode)
