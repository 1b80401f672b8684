"""Three-class customer sentiment (negative / neutral / positive) with probabilities and reasons.

Model: multinomial logistic regression over the word + char n-gram TF-IDF of :mod:`heedful.ml.text`
plus, when the static table is built, static word-piece embeddings ("fast"), and, when the MiniLM
ONNX encoder is built, a second one over TF-IDF + MiniLM features ("full"). ``analyse_sentiment``
answers with the fast model and escalates to the full one only when the fast model is unsure (top
probability below ``escalate_below``, chosen on the validation split at build time). Trained by
``heedful ml build`` from the airline tweets (see docs/model-cards/sentiment.md); the artefact is
not shipped in git because of the data license.

When the artefact has not been built, :func:`analyse_sentiment` raises :class:`SentimentUnavailable`
with the command to run. It never silently falls back to a different model.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heedful.ml import paths
from heedful.ml.linear import F32, FeatureSpace, LinearSoftmax, softmax
from heedful.ml.persist import ArtefactError, load_artefact, save_artefact
from heedful.ml.text import STOP_WORDS, NgramTfidf, clean

ARTEFACT_KIND = "sentiment"
LABELS = ("negative", "neutral", "positive")


class SentimentUnavailable(RuntimeError):
    """The trained sentiment artefact is missing or unreadable."""


@dataclass(frozen=True)
class Sentiment:
    label: str
    probabilities: dict[str, float]
    top_words: tuple[tuple[str, float], ...]  # words pushing towards ``label``, with weights
    model: str  # "fast" or "full"
    model_version: str

    @property
    def explanation(self) -> str:
        words = ", ".join(f"{w!r}" for w, _ in self.top_words) or "no telling words"
        return f"{self.label} ({self.probabilities[self.label]:.0%}); words: {words}"


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

    def _fast_dense(self, texts: list[str]) -> F32 | None:
        return FeatureSpace(self.tfidf, "static").dense(texts) if self.fast_static else None

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
        used, model = "fast", self.fast
        if self.full is not None and (mode == "full" or (mode == "auto" and p.max() < self.escalate_below)):
            space = FeatureSpace(self.tfidf, "hybrid")
            dense = _require(space.dense([text]))
            p = softmax(self.full.logits_one(idx, val, dense[0]))
            used, model = "full", self.full
        best = int(p.argmax())
        probs = {label: round(float(p[i]), 4) for i, label in enumerate(model.classes)}
        return Sentiment(
            model.classes[best], probs, self._top_words(idx, val, model, best), used, self.version
        )

    def predict(self, texts: Sequence[str], *, mode: str = "auto") -> list[str]:
        """Labels for many texts (batched; used by the evaluation)."""
        items = list(texts)
        sparse = self.tfidf.transform(items)
        p = softmax(self.fast.logits_batch(sparse, self._fast_dense(items)))
        if self.full is not None and mode != "fast":
            pick = np.ones(len(items), bool) if mode == "full" else p.max(1) < self.escalate_below
            if pick.any():
                rows = np.where(pick)[0]
                dense = FeatureSpace(self.tfidf, "hybrid").dense([items[i] for i in rows])
                p[rows] = softmax(self.full.logits_batch(sparse[rows], dense))
        return [self.fast.classes[i] for i in p.argmax(1)]

    def escalates(self, texts: Sequence[str]) -> Any:
        """Which texts ``mode="auto"`` hands to the full model (a boolean array)."""
        items = list(texts)
        if self.full is None:
            return np.zeros(len(items), dtype=bool)
        p = softmax(self.fast.logits_batch(self.tfidf.transform(items), self._fast_dense(items)))
        return p.max(1) < self.escalate_below

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
        if full is not None:
            from heedful.ml.encoders import minilm_available

            if not minilm_available():
                full = None  # stated in the model version below, never silent
                meta["version"] += "+fast-only(no-minilm)"
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
            tfidf, fast, full, float(meta["escalate_below"]), meta["version"], meta["metrics"], fast_static
        )


def train(
    train_rows: Sequence[tuple[str, str]],
    val_rows: Sequence[tuple[str, str]],
    *,
    with_minilm: bool,
    with_static: bool = False,
    grid: Sequence[float] = (2.0, 8.0),
) -> SentimentModel:
    """Fit fast (and full) models; pick C and the escalation threshold on ``val_rows``.

    ``with_static``: the fast model also gets the static word-piece embeddings (needs the
    static table; see :mod:`heedful.ml.distil_static`)."""
    import hashlib
    import json

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
    if with_minilm:
        space = FeatureSpace(tfidf, "hybrid")
        dense = _require(space.dense(texts))
        dense_val = _require(space.dense(val_texts))
        full, full_acc = best_model(dense, dense_val)
        metrics["val_accuracy_full"] = round(full_acc, 4)
        escalate = _choose_escalation(fast, full, xv, dense_val, val_labels, fast_dense_val)
        metrics["escalate_below"] = escalate
        metrics["val_escalated_share"] = round(
            float((softmax(fast.logits_batch(xv, fast_dense_val)).max(1) < escalate).mean()), 4
        )
    digest = hashlib.sha256(json.dumps(sorted(zip(texts, labels, strict=True))).encode()).hexdigest()
    version = f"sentiment-{'full' if full else 'fast'}-{digest[:12]}"
    if fast_static:
        version += f"+static-{fast_static[:8]}"
    return SentimentModel(tfidf, fast, full, escalate, version, metrics, fast_static)


def _require(dense: F32 | None) -> F32:
    if dense is None:
        raise RuntimeError("the hybrid feature space returned no embedding")
    return dense


def _choose_escalation(
    fast: LinearSoftmax, full: LinearSoftmax, xv: Any, dense_val: F32, y: Any, fast_dense_val: F32 | None
) -> float:
    """Lowest escalation threshold whose validation accuracy is within 0.3 points of always-full."""
    pf = softmax(fast.logits_batch(xv, fast_dense_val))
    pfull = softmax(full.logits_batch(xv, dense_val))
    classes = np.array(fast.classes)
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
