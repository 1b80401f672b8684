"""FAQ / intent matcher that knows when it does not know.

Train from knowledge-base entries (question variants -> answer id), optionally with examples of
questions the FAQ does *not* answer. A linear softmax over TF-IDF (+ MiniLM) features ranks the
answers; out-of-scope examples are an extra class. The hand-off threshold on the top answer's
probability comes from :func:`heedful.ml.threshold.choose_threshold` on held-out questions:
the caller's validation set if given, else a 20 % hold-out chosen by a hash of each question's
text (>= 1,000 variants) or k-fold cross-validation (small FAQs). When there is too little data
to calibrate, the matcher says so (``calibration["thin"]``) and uses a cautious threshold.
A question with exactly the words of one of the knowledge base's own phrasings (case, spacing
and punctuation aside) gets that phrasing's answer at confidence 1, or is handed off when it is
one of the out-of-scope examples; the evaluation scores it the same way.

>>> m = FaqMatcher.train([("when do you open", "hours"), ("opening times", "hours"),
...                       ("where are you", "address"), ("your address please", "address")],
...                      encoder="tfidf")                                   # doctest: +SKIP
>>> m.match("what time do you open").answer_id                           # doctest: +SKIP
'hours'
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from heedful.ml.encoders import installed_minilm, installed_static_table, resolve_encoder_name
from heedful.ml.linear import F32, FeatureSpace, LinearSoftmax, embed, softmax
from heedful.ml.persist import ArtefactError, load_artefact, save_artefact
from heedful.ml.text import NgramTfidf, clean, phrase_key
from heedful.ml.threshold import MIN_CALIBRATION_QUESTIONS, ThresholdChoice, choose_threshold

OOS_LABEL = "oos"
ARTEFACT_KIND = "faq-matcher"
N_CANDIDATES = 3
N_NEIGHBOURS = 3
K_CLOSE = 5
CONFIDENCE_KIND = "probability*closeness"


@dataclass(frozen=True)
class Candidate:
    answer_id: str
    confidence: float


@dataclass(frozen=True)
class Neighbour:
    """A training variant close to the question, with its cosine similarity."""

    text: str
    answer_id: str
    similarity: float


@dataclass(frozen=True)
class Match:
    answer_id: str | None  # None: out of scope, hand off to a person
    confidence: float  # probability of the top in-scope answer
    threshold: float
    candidates: tuple[Candidate, ...]
    neighbours: tuple[Neighbour, ...]
    reason: str
    model_version: str
    # True when the sentence encoder (MiniLM) was run for this question, False when the first
    # pass (TF-IDF, or TF-IDF + static embeddings) decided alone; the triage benchmark reports
    # the share of escalations.
    escalated: bool = False

    @property
    def out_of_scope(self) -> bool:
        return self.answer_id is None


@dataclass
class FaqMatcher:
    space: FeatureSpace
    model: LinearSoftmax
    threshold: float
    calibration: dict[str, Any]
    texts: list[str]
    labels: list[str]
    version: str
    _train_sparse: Any = field(default=None, repr=False)
    _train_dense: F32 | None = field(default=None, repr=False)
    _rows_by_label: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _sparse_by_label: dict[str, Any] = field(default_factory=dict, repr=False)
    # phrase_key of each training phrasing -> its row, or -1 when the same words were written
    # for two answers (built on first use: fold matchers of a small FAQ may never need it).
    _phrasings: dict[str, int] | None = field(default=None, repr=False, compare=False)
    # Where the next retrain's hold-out fits start (big knowledge bases): the weights of the
    # stable hold-out fit that calibrated this matcher, which never saw a held-out question.
    # Saved with the matcher, so a retrain after a restart starts warm too.
    _hold_out_start: _Start | None = field(default=None, repr=False, compare=False)
    # Optional first pass (hybrid encoder): answers alone when it is at least ``fast_accept``
    # sure, which on the validation set agreed with the full decision >= 99.5 %. Its features are
    # ``fast_encoder``: "static" (TF-IDF + static word-piece embeddings) when the static table
    # was built, else "tfidf".
    fast: LinearSoftmax | None = field(default=None, repr=False)
    fast_accept: float = 2.0
    fast_encoder: str = "tfidf"
    # table_sha256 of the static table the model was trained with ("" if none): a different
    # table at load time would feed the weights vectors they were not fitted on.
    static_table: str = ""
    # sha256 of the MiniLM ONNX file whose vectors the model was trained on ("" if none): likewise.
    minilm_model: str = ""
    # How ``confidence`` is computed: "probability" (artefacts written before this existed) or
    # "probability*closeness": the answer's probability times the mean similarity of the question
    # to its K_CLOSE nearest training variants among the top candidates. The product separated
    # out-of-scope questions better on CLINC150's validation split (AUROC 0.983 -> 0.988): a
    # question far from every known variant is suspicious even when the classifier is sure.
    confidence_kind: str = "probability"

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls,
        examples: Sequence[tuple[str, str]],
        *,
        encoder: str | None = None,
        oos_examples: Sequence[str] = (),
        validation: Sequence[tuple[str, str | None]] | None = None,
        target_wrong_rate: float = 0.05,
        oos_share: float | None = None,
        c: float = 10.0,
        fast_first_pass: bool = True,
        previous: FaqMatcher | None = None,
        calibrate_on_oos: bool = True,
    ) -> FaqMatcher:
        """Fit on ``examples`` and calibrate the hand-off threshold (see the module docstring).

        ``validation`` items with label ``None`` or ``"oos"`` are out-of-scope questions.
        ``previous``: the matcher this one replaces (the knowledge base before an edit). Its
        sentence embeddings are reused for the questions it already had, and the final fits
        start from its weights, so a retrain after a small change costs about half a fit from
        scratch; the result equals a fit from scratch up to the solver's tolerance. Models
        whose answers calibrate the threshold never start from it: it saw those questions.

        ``calibrate_on_oos=False`` (without ``validation``): the ``oos_examples`` are in every
        calibration fit and never held out. For examples that are not a sample of off-topic
        traffic but chosen ones (the near misses people marked in the knowledge app): held out,
        they are easy to hand off (their like stay in the fit), and the threshold calibrated on
        them answered more of the off-topic questions nobody had marked (``heedful eval
        small-kbs --not-covered``, session 21).
        """
        pairs = _check_examples(examples)
        oos = [t for t in oos_examples if isinstance(t, str) and t.strip()]
        name = resolve_encoder_name(encoder)
        texts = [t for t, _ in pairs] + oos
        labels = [a for _, a in pairs] + [OOS_LABEL] * len(oos)
        counts = Counter(labels)
        # Closeness joins the confidence only when there are enough held-out questions to
        # calibrate the product; thin FAQs keep the plain probability and its cautious floor.
        n_held = (
            len(validation) if validation is not None else _held_out_count(texts, counts, calibrate_on_oos)
        )
        kind = CONFIDENCE_KIND if n_held >= MIN_CALIBRATION_QUESTIONS else "probability"
        known = _known_embeddings(previous, name)
        # Once for every question: the hold-out's fit, its scoring and the final fit each
        # embedded their own share, 2x the MiniLM time of one pass (half of a retrain).
        known = _with_embeddings(known, name, texts)
        if validation is not None:
            val = [(t, OOS_LABEL if a in (None, OOS_LABEL) else str(a)) for t, a in validation]
            matcher = _fit(texts, labels, name, c, kind, known=known)
            conf, correct, in_scope, method = _validation_scores(
                matcher, val, texts, labels, counts, c, kind, known
            )
            choice = choose_threshold(
                conf, correct, in_scope, target_wrong_rate=target_wrong_rate, oos_share=oos_share
            )
            matcher.threshold = choice.threshold
            # What the same questions give at other targets (``heedful eval`` reports them).
            others = {
                f"{target:.0%}": choose_threshold(
                    conf, correct, in_scope, target_wrong_rate=target, oos_share=oos_share
                ).threshold
                for target in (0.01, 0.05)
            }
            matcher.calibration = choice.as_dict() | {"method": method, "thresholds_at": others}
            if name == "hybrid" and fast_first_pass:
                _add_fast_pass(matcher, [t for t, _ in val], c)
            return matcher
        plan = _Plan(
            texts,
            labels,
            counts,
            name,
            c,
            kind,
            known,
            previous,
            name == "hybrid" and fast_first_pass,
            calibrate_on_oos,
        )
        matcher, calibrated = plan.run(target_wrong_rate, oos_share)
        matcher.threshold = calibrated.choice.threshold
        matcher.calibration = calibrated.choice.as_dict() | {
            "method": _cross_method(len(texts), _fold_counts(counts, calibrate_on_oos))
        }
        if calibrated.tops and plan.first_pass_of_final is not None:
            _attach_first_pass(matcher, *plan.first_pass_of_final)
            _set_fast_accept(matcher, np.concatenate(calibrated.tops), np.concatenate(calibrated.agrees))
            matcher.calibration["fast_accept_from"] = "out-of-fold questions"
        folds = calibrated.folds
        if len(folds) == 1 and folds[0].stable:
            matcher._hold_out_start = _Start.of(folds[0].matcher).kept_on(matcher.space.tfidf)
        return matcher

    # ------------------------------------------------------------------ answering
    def match(self, text: str) -> Match:
        """Best answer for ``text`` (or ``None``: hand off), with candidates and neighbours."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        if not clean(text):
            return Match(None, 0.0, self.threshold, (), (), "empty question", self.version)
        row = self._phrasing_row(text)
        if row >= 0:
            return self._as_written(row)
        idx, val = self.space.tfidf.vector(text) if self.space.uses_tfidf else ([], [])
        if self.fast is not None:
            fast_dense = self._fast_dense([text])
            fast_row = None if fast_dense is None else fast_dense[0]
            fast_probs = softmax(self.fast.logits_one(idx, val, fast_row))
            if float(fast_probs.max()) >= self.fast_accept:
                return self._decide(fast_probs, idx, val, None, fast=True)
        dense = self.space.dense([text])
        probs = softmax(self.model.logits_one(idx, val, None if dense is None else dense[0]))
        decided = self._decide(probs, idx, val, None if dense is None else dense[0])
        return replace(decided, escalated=True) if self.space.uses_minilm else decided

    def _phrasing_row(self, text: str) -> int:
        """The training row whose phrasing has exactly the words of ``text``, else -1.

        The owner wrote that phrasing for that answer, so the answer is hers, not a guess; a
        thin knowledge base would otherwise hand off its own questions, since one phrasing
        among a dozen answers rarely reaches the cautious threshold.
        """
        if self._phrasings is None:
            phrasings: dict[str, int] = {}
            for i, (t, label) in enumerate(zip(self.texts, self.labels, strict=True)):
                key = phrase_key(t)
                if key:
                    seen = phrasings.setdefault(key, i)
                    if seen >= 0 and self.labels[seen] != label:
                        phrasings[key] = -1
            self._phrasings = phrasings
        return self._phrasings.get(phrase_key(text), -1)

    def _phrasing_rows(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._phrasing_row(t) for t in texts], dtype=np.int64)

    def _as_written(self, row: int) -> Match:
        label, phrasing = self.labels[row], self.texts[row]
        neighbours = (Neighbour(phrasing, label, 1.0),)
        if label == OOS_LABEL:
            reason = f"the knowledge base lists {phrasing!r} among the questions it does not answer"
            return Match(None, 0.0, self.threshold, (), neighbours, reason, self.version)
        reason = f"answer {label!r}: the question is the knowledge base's own phrasing {phrasing!r}"
        candidates = (Candidate(label, 1.0),)
        return Match(label, 1.0, self.threshold, candidates, neighbours, reason, self.version)

    def _with_phrasings(self, texts: Sequence[str], predicted: list[str], conf: F32) -> tuple[list[str], F32]:
        """``predicted`` and ``conf`` with the knowledge base's own phrasings decided as
        :meth:`match` decides them (its answer at confidence 1, or 0 for an out-of-scope one)."""
        rows = self._phrasing_rows(texts)
        if not (rows >= 0).any():
            return predicted, conf
        predicted, conf = list(predicted), conf.copy()
        for i in np.flatnonzero(rows >= 0).tolist():
            label = self.labels[rows[i]]
            if label == OOS_LABEL:
                conf[i] = 0.0
            else:
                predicted[i], conf[i] = label, 1.0
        return predicted, conf

    def _fast_dense(self, texts: list[str]) -> F32 | None:
        if self.fast_encoder != "static":
            return None
        return FeatureSpace(self.space.tfidf, "static").dense(texts)

    @property
    def first_pass(self) -> str:
        """Which first pass answers alone when sure: "static", "tfidf" or "none"."""
        return self.fast_encoder if self.fast is not None else "none"

    def first_pass_scores(self, texts: Sequence[str]) -> tuple[list[str], F32, Any]:
        """What the first pass would answer for many texts: top answer, its confidence, and
        whether the first pass is sure enough to answer alone (else :meth:`match` escalates)."""
        if self.fast is None:
            raise ValueError("this matcher has no first pass")
        items = list(texts)
        sparse, probs = self._first_pass_probs(items)
        predicted, conf = self.scores_with(self.fast, probs, sparse, None)
        # A phrasing of the knowledge base never reaches the first pass: it is settled as written.
        settled = (probs.max(axis=1) >= self.fast_accept) | (self._phrasing_rows(items) >= 0)
        return (*self._with_phrasings(items, predicted, conf), settled)

    def _first_pass_probs(self, items: list[str]) -> tuple[Any, F32]:
        if self.fast is None:
            raise ValueError("this matcher has no first pass")
        sparse = self.space.tfidf.transform(items)
        return sparse, softmax(self.fast.logits_batch(sparse, self._fast_dense(items)))

    def match_batch(self, texts: Sequence[str]) -> list[Match]:
        return [self.match(t) for t in texts] if len(texts) < 8 else self._match_many(texts)

    def _match_many(self, texts: Sequence[str]) -> list[Match]:
        items = list(texts)
        dense = self.space.dense(items)
        out = []
        for i, text in enumerate(items):
            if not clean(text):
                out.append(Match(None, 0.0, self.threshold, (), (), "empty question", self.version))
                continue
            row = self._phrasing_row(text)
            if row >= 0:
                out.append(self._as_written(row))
                continue
            idx, val = self.space.tfidf.vector(text) if self.space.uses_tfidf else ([], [])
            d = None if dense is None else dense[i]
            out.append(self._decide(softmax(self.model.logits_one(idx, val, d)), idx, val, d))
        return out

    def scores(self, texts: Sequence[str], *, dense: F32 | None = None) -> tuple[list[str], F32]:
        """Top in-scope answer and its confidence for many texts (fast path for evaluation);
        ``dense``: their sentence embeddings, when already computed."""
        items = list(texts)
        sparse = self.space.sparse(items)
        if dense is None:
            dense = self.space.dense(items)
        probs = softmax(self.model.logits_batch(sparse, dense))
        return self._with_phrasings(items, *self.scores_with(self.model, probs, sparse, dense))

    def scores_with(
        self, model: LinearSoftmax, probs: F32, sparse: Any = None, dense: F32 | None = None
    ) -> tuple[list[str], F32]:
        """Top in-scope answer and confidence from ``probs`` (features needed for closeness)."""
        items = probs
        in_scope = self._in_scope_probs(probs)
        top = in_scope.argmax(axis=1)
        conf = in_scope[np.arange(len(items)), top]
        if self.confidence_kind == CONFIDENCE_KIND:
            if sparse is None:
                raise ValueError("this matcher's confidence needs the question's features")
            order = np.argsort(-in_scope, axis=1, kind="stable")[:, :N_CANDIDATES]
            for i in range(len(items)):
                labels = [model.classes[j] for j in order[i] if in_scope[i, j] >= 0]
                row = sparse[i]
                conf[i] *= self._closeness(
                    row.indices.tolist(), row.data.tolist(), None if dense is None else dense[i], labels
                )
        oos_top = probs.argmax(axis=1) == self._oos_index()
        conf = np.where(oos_top, np.minimum(conf, 0.0), conf)
        return [model.classes[i] for i in top], conf.astype(np.float32)

    def _closeness(self, idx: list[int], val: list[float], dense: F32 | None, labels: list[str]) -> float:
        _, sparse_sims, dense_sims = self._similarities(idx, val, dense, labels, tfidf=dense is None)
        return _closeness_of(dense_sims if dense_sims is not None else sparse_sims)

    def _oos_index(self) -> int:
        classes = self.model.classes
        return classes.index(OOS_LABEL) if OOS_LABEL in classes else -1

    def _in_scope_probs(self, probs: F32) -> F32:
        oi = self._oos_index()
        if oi < 0:
            return probs
        masked = probs.copy()
        masked[..., oi] = -1.0
        return masked

    def _decide(
        self, probs: F32, idx: list[int], val: list[float], dense: F32 | None, fast: bool = False
    ) -> Match:
        classes = self.model.classes
        in_scope = self._in_scope_probs(probs)
        order = np.lexsort((np.arange(len(classes)), -in_scope))[:N_CANDIDATES]
        candidates = tuple(
            Candidate(classes[i], round(float(probs[i]), 4)) for i in order if in_scope[i] >= 0
        )
        top, conf = classes[order[0]], float(probs[order[0]])
        labels = [c.answer_id for c in candidates]
        rows, sparse_sims, dense_sims = self._similarities(idx, val, dense, labels)
        neighbours = self._neighbours(rows, sparse_sims, dense_sims)
        how = ""
        if self.confidence_kind == CONFIDENCE_KIND:
            closeness = _closeness_of(dense_sims if dense_sims is not None else sparse_sims)
            how = f" (p={conf:.2f} x closeness {closeness:.2f})"
            conf *= closeness
        oi = self._oos_index()
        if oi >= 0 and int(probs.argmax()) == oi:
            reason = f"most like the out-of-scope examples (p={probs[oi]:.2f})"
            return Match(None, round(conf, 4), self.threshold, candidates, neighbours, reason, self.version)
        if conf < self.threshold:
            reason = f"best answer {top!r} has confidence {conf:.2f}{how} < threshold {self.threshold:.2f}"
            return Match(None, round(conf, 4), self.threshold, candidates, neighbours, reason, self.version)
        reason = f"answer {top!r}: confidence {conf:.2f}{how} >= threshold {self.threshold:.2f}"
        if fast:
            reason += f" (first pass: {self.fast_encoder})"
        return Match(top, round(conf, 4), self.threshold, candidates, neighbours, reason, self.version)

    def _similarities(
        self, idx: list[int], val: list[float], dense: F32 | None, labels: list[str], tfidf: bool = True
    ) -> tuple[Any, F32 | None, F32 | None]:
        """Training rows of ``labels`` and their TF-IDF and sentence-embedding cosines to the
        question (each ``None`` when not computed)."""
        present = [a for a in labels if a in self._rows_by_label]
        if not present:
            return np.zeros(0, np.int64), None, None
        rows = np.concatenate([self._rows_by_label[a] for a in present])
        sparse_sims = dense_sims = None
        if tfidf and self.space.uses_tfidf:
            # Dot products with each candidate's variants through a per-label CSR block and a
            # dense query vector (indexing the whole training matrix by rows cost more than the
            # rest of a match).
            x = np.zeros(self.space.tfidf.n_features, dtype=np.float32)
            if idx:
                x[idx] = val
            sparse_sims = np.concatenate([self._sparse_by_label[a] @ x for a in present])
        if dense is not None and self._train_dense is not None:
            dense_sims = (self._train_dense[rows] @ dense) / np.float32(self.space.dense_weight**2)
        return rows, sparse_sims, dense_sims

    def _neighbours(
        self, rows: Any, sparse_sims: F32 | None, dense_sims: F32 | None
    ) -> tuple[Neighbour, ...]:
        if not len(rows):
            return ()
        sims = np.zeros(len(rows), dtype=np.float32)
        if sparse_sims is not None:
            sims += sparse_sims
        if dense_sims is not None:
            sims += dense_sims * np.float32(self.space.dense_weight**2)
            sims /= np.float32(self._norm_sq())
        best = np.lexsort((rows, -np.round(sims, 6)))[:N_NEIGHBOURS]
        return tuple(
            Neighbour(self.texts[rows[i]], self.labels[rows[i]], round(float(sims[i]), 4)) for i in best
        )

    def _norm_sq(self) -> float:
        sparse = 1.0 if self.space.uses_tfidf else 0.0
        dense = self.space.dense_weight**2 if self.space.uses_dense else 0.0
        return sparse + dense

    def _index_rows(self) -> None:
        by_label: dict[str, list[int]] = {}
        for i, label in enumerate(self.labels):
            by_label.setdefault(label, []).append(i)
        self._rows_by_label = {a: np.array(r, dtype=np.int64) for a, r in by_label.items()}
        self._sparse_by_label = {a: self._train_sparse[r] for a, r in self._rows_by_label.items()}

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> str:
        """Write the matcher (format version + sha256 checksum); return the checksum."""
        tf_meta, tf_arrays = self.space.tfidf.to_state()
        meta = {
            "tfidf": tf_meta,
            "encoder": self.space.encoder,
            "dense_weight": self.space.dense_weight,
            "classes": self.model.classes,
            "threshold": self.threshold,
            "calibration": self.calibration,
            "texts": self.texts,
            "labels": self.labels,
            "version": self.version,
        }
        arrays = dict(tf_arrays) | self.model.to_arrays("clf_")
        if self.fast is not None:
            arrays |= self.fast.to_arrays("fast_")
        meta["fast_accept"] = self.fast_accept
        meta["fast_encoder"] = self.fast_encoder
        meta["static_table_sha256"] = self.static_table
        meta["minilm_sha256"] = self.minilm_model
        meta["confidence_kind"] = self.confidence_kind
        sp = self._train_sparse
        arrays |= {"x_data": sp.data, "x_indices": sp.indices, "x_indptr": sp.indptr}
        if self._train_dense is not None:
            arrays["x_dense"] = self._train_dense.astype(np.float16)
        if self._hold_out_start is not None:
            held = self._hold_out_start
            meta["hold_out_start"] = {"classes": held.model.classes, "fast_encoder": held.fast_encoder}
            arrays |= held.model.to_arrays("hold_clf_")
            if held.fast is not None:
                arrays |= held.fast.to_arrays("hold_fast_")
        return save_artefact(path, ARTEFACT_KIND, meta, arrays)

    @classmethod
    def load(cls, path: str | Path) -> FaqMatcher:
        """Read a matcher written by :meth:`save`; raises ArtefactError if it does not verify."""
        import scipy.sparse as sp

        meta, arrays, _ = load_artefact(path, ARTEFACT_KIND)
        try:
            tfidf = NgramTfidf.from_state(meta["tfidf"], arrays)
            space = FeatureSpace(tfidf, meta["encoder"], float(meta["dense_weight"]))
            minilm_model = str(meta.get("minilm_sha256", ""))
            if space.uses_minilm:
                resolve_encoder_name("minilm")  # clear error when the ONNX file is missing
                if installed_minilm() != minilm_model:
                    raise ArtefactError(
                        f"{path}: trained on MiniLM file {minilm_model[:12] or '(unrecorded)'}, "
                        f"installed: {installed_minilm()[:12]}; retrain the matcher"
                    )
            static_table = str(meta.get("static_table_sha256", ""))
            if space.encoder == "static" and installed_static_table() != static_table:
                raise ArtefactError(
                    f"{path}: trained on static table {static_table[:12]}, installed: "
                    f"{installed_static_table()[:12] or 'none'}; retrain the matcher"
                )
            model = LinearSoftmax.from_arrays(meta["classes"], arrays, "clf_")
            x = sp.csr_matrix(
                (arrays["x_data"], arrays["x_indices"], arrays["x_indptr"]),
                shape=(len(meta["texts"]), tfidf.n_features),
            )
            dense = arrays["x_dense"].astype(np.float32) if "x_dense" in arrays else None
        except KeyError as exc:
            raise ArtefactError(f"{path}: missing field {exc}") from exc
        matcher = cls(
            space,
            model,
            float(meta["threshold"]),
            meta["calibration"],
            meta["texts"],
            meta["labels"],
            meta["version"],
            x,
            dense,
        )
        matcher.confidence_kind = str(meta.get("confidence_kind", "probability"))
        matcher.static_table = static_table
        matcher.minilm_model = minilm_model
        if LinearSoftmax.in_arrays(arrays, "fast_"):
            matcher.fast_encoder = str(meta.get("fast_encoder", "tfidf"))
            if matcher.fast_encoder == "static" and installed_static_table() != static_table:
                # The full model is still valid: every question takes the full path, and the
                # calibration says why, until the matcher is retrained.
                matcher.calibration = dict(matcher.calibration) | {
                    "first_pass": "off: the static table it was trained with is not installed"
                }
            else:
                matcher.fast = LinearSoftmax.from_arrays(meta["classes"], arrays, "fast_")
                matcher.fast_accept = float(meta["fast_accept"])
        held = meta.get("hold_out_start")
        if held is not None:
            fast = None
            if LinearSoftmax.in_arrays(arrays, "hold_fast_"):
                fast = LinearSoftmax.from_arrays(held["classes"], arrays, "hold_fast_")
            model = LinearSoftmax.from_arrays(held["classes"], arrays, "hold_clf_")
            matcher._hold_out_start = _Start(tfidf, model, fast, str(held["fast_encoder"]))
        matcher._index_rows()
        return matcher


def _closeness_of(sims: F32 | None) -> float:
    """Mean similarity to the K_CLOSE nearest variants (sentence-embedding cosines when the
    encoder ran, else TF-IDF cosines), clipped to 0..1."""
    if sims is None or not len(sims):
        return 0.0
    nearest = np.sort(sims)[-K_CLOSE:]
    return float(min(max(float(nearest.mean()), 0.0), 1.0))


def _check_examples(examples: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = []
    for item in examples:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise ValueError(f"each example must be (question, answer_id), got {item!r}")
        text, answer = item
        if not isinstance(text, str) or not isinstance(answer, str) or not answer:
            raise ValueError(f"each example must be (question: str, answer_id: str), got {item!r}")
        if answer == OOS_LABEL:
            raise ValueError(f"answer id {OOS_LABEL!r} is reserved; pass oos_examples instead")
        if clean(text):
            pairs.append((text, answer))
    if len({a for _, a in pairs}) < 1 or not pairs:
        raise ValueError("no usable examples: need at least one non-empty question")
    return pairs


def _fit(
    texts: list[str],
    labels: list[str],
    encoder: str,
    c: float,
    kind: str = CONFIDENCE_KIND,
    *,
    start: _Start | None = None,
    known: dict[str, F32] | None = None,
) -> FaqMatcher:
    """Fit a matcher; ``start``: weights fitted on most of the same questions, where the
    solver starts; ``known``: sentence embeddings already computed, by text."""
    tfidf = NgramTfidf.fit(texts)
    space = FeatureSpace(tfidf, encoder)
    sparse = tfidf.transform(texts)
    dense = _dense(space, texts, known)
    fit_labels = list(labels)
    if len(set(labels)) == 1:  # one FAQ entry and nothing else: add a "nothing" class to contrast
        fit_labels = [*labels, OOS_LABEL]
        import scipy.sparse as sps

        sparse = sps.vstack([sparse, sps.csr_matrix((1, tfidf.n_features), dtype=np.float32)])
        if dense is not None:
            dense = np.vstack([dense, np.zeros((1, dense.shape[1]), np.float32)])
    begin = None if start is None else _moved_to(start.model, start.tfidf, tfidf)
    model = LinearSoftmax.fit(sparse, fit_labels, tfidf.n_features, dense=dense, c=c, start=begin)
    static_table = installed_static_table() if encoder == "static" else ""
    minilm_model = installed_minilm() if space.uses_minilm else ""
    identity: list[Any] = [encoder, c, sorted(zip(texts, labels, strict=True))]
    if static_table:  # the same questions on another table give other answers
        identity.append(static_table)
    if minilm_model:  # and on another MiniLM file
        identity.append(minilm_model)
    digest = hashlib.sha256(json.dumps(identity).encode("utf-8")).hexdigest()[:12]
    matcher = FaqMatcher(
        space,
        model,
        0.0,
        {"method": "none"},
        list(texts),
        list(labels),
        f"faq-{encoder}-{digest}",
        sparse[: len(texts)],
        # Rounded as :meth:`save` stores it, so that a reloaded matcher finds the same neighbours
        # with the same similarities as the one that was trained.
        None if dense is None else dense[: len(texts)].astype(np.float16).astype(np.float32),
        confidence_kind=kind,
        static_table=static_table,
        minilm_model=minilm_model,
    )
    matcher._index_rows()
    return matcher


def _moved_to(model: LinearSoftmax, source: NgramTfidf, target: NgramTfidf) -> LinearSoftmax:
    """``model``'s weights re-indexed from ``source``'s vocabulary to ``target``'s (terms the
    source did not have start at zero)."""
    if source is target:
        return model
    rows = np.array([source.index.get(t, -1) for t in target.terms], dtype=np.int64)
    if model.sparse_weights_stored_sparse:
        import scipy.sparse as sps

        kept = sps.diags((rows >= 0).astype(np.float32)) @ model.w_sparse[np.maximum(rows, 0)]
        kept = sps.csr_matrix(kept, dtype=np.float32)
        kept.eliminate_zeros()
        return LinearSoftmax(model.classes, kept, model.w_dense, model.bias)
    w_sparse = np.where(rows[:, None] >= 0, model.w_sparse[np.maximum(rows, 0)], np.float32(0))
    return LinearSoftmax(model.classes, w_sparse.astype(np.float32), model.w_dense, model.bias)


def _known_embeddings(previous: FaqMatcher | None, encoder: str) -> dict[str, F32]:
    """The previous matcher's sentence embeddings by question, when they are in the space a
    new ``encoder`` matcher would compute (same encoder, same static table or MiniLM file)."""
    if previous is None or previous._train_dense is None or previous.space.encoder != encoder:
        return {}
    if previous.space.dense_weight != 1.0:
        return {}
    if encoder == "static" and previous.static_table != installed_static_table():
        return {}
    if previous.space.uses_minilm and previous.minilm_model != installed_minilm():
        return {}
    return dict(zip(previous.texts, previous._train_dense, strict=True))


def _dense(space: FeatureSpace, texts: list[str], known: dict[str, F32] | None) -> F32 | None:
    """``space.dense(texts)``, computing only the texts ``known`` does not have."""
    if not known or not space.uses_dense:
        return space.dense(texts)
    missing = sorted({t for t in texts if t not in known})
    fresh = space.dense(missing) if missing else None
    if fresh is not None:
        known = known | dict(zip(missing, fresh, strict=True))
    return np.stack([known[t] for t in texts]).astype(np.float32)


def _with_embeddings(known: dict[str, F32], encoder: str, texts: list[str]) -> dict[str, F32]:
    """``known`` plus the sentence embeddings of those ``texts`` it lacks (the dense block
    :class:`FeatureSpace` computes for ``encoder``, weight 1)."""
    if encoder not in ("static", "minilm", "hybrid"):
        return known
    missing = sorted({t for t in texts if t not in known})
    if not missing:
        return known
    return known | dict(zip(missing, embed(encoder, missing), strict=True))


def _add_fast_pass(matcher: FaqMatcher, held_texts: list[str], c: float) -> None:
    """Train the first pass (TF-IDF, plus static embeddings when the table is built); accept it
    where it agrees with the full decision on ``held_texts`` (questions neither model saw)."""
    if not held_texts or not _fit_fast(matcher, c):
        return
    _set_fast_accept(matcher, *_first_pass_agreement(matcher, held_texts))


def _fit_fast(matcher: FaqMatcher, c: float, start: _Start | None = None) -> bool:
    """Give ``matcher`` a first pass fitted on its own training texts, accepting nothing until
    :func:`_set_fast_accept`; False when there is nothing to contrast (one answer only)."""
    fitted = _first_pass_model(matcher, c, start)
    if fitted is not None:
        _attach_first_pass(matcher, *fitted)
    return fitted is not None


def _first_pass_model(
    matcher: FaqMatcher, c: float, start: _Start | None = None
) -> tuple[LinearSoftmax, str] | None:
    """The first pass for ``matcher`` (TF-IDF, plus static word-piece embeddings when the table
    is built) fitted on its training texts, and its encoder; None when it cannot contrast
    answers (one answer only). ``matcher`` is left unchanged.

    ``start``: weights fitted on most of the same questions; the solver starts from their
    first pass, if they have one with the same features, instead of from zero."""
    from heedful.ml.encoders import static_available

    if len(set(matcher.labels)) < 2:
        return None
    fast_encoder = "static" if static_available() else "tfidf"
    train_dense = None
    if fast_encoder == "static":
        train_dense = FeatureSpace(matcher.space.tfidf, "static").dense(matcher.texts)
    begin = None
    if start is not None and start.fast is not None and start.fast_encoder == fast_encoder:
        begin = _moved_to(start.fast, start.tfidf, matcher.space.tfidf)
    n_sparse = matcher.space.tfidf.n_features
    fast = LinearSoftmax.fit(
        matcher._train_sparse, matcher.labels, n_sparse, dense=train_dense, c=c, start=begin
    )
    return (fast, fast_encoder) if fast.classes == matcher.model.classes else None


def _attach_first_pass(matcher: FaqMatcher, fast: LinearSoftmax, fast_encoder: str) -> None:
    matcher.fast, matcher.fast_accept, matcher.fast_encoder = fast, 2.0, fast_encoder
    if fast_encoder == "static":
        matcher.static_table = installed_static_table()
        matcher.version += f"+static-{matcher.static_table[:8]}"


@dataclass
class _Calibrated:
    """What the out-of-fold chain of :class:`_Plan` found: the threshold's choice, the folds,
    and per fold how sure its first pass was and whether it agreed with its full model."""

    choice: ThresholdChoice
    folds: list[_Fold]
    tops: list[F32] = field(default_factory=list)
    agrees: list[F32] = field(default_factory=list)


class _Plan:
    """A training without a validation set, as two chains of fits:

    * calibration: the hold-out (or k-fold) fits, their answers for the questions they did not
      see, the threshold, then each fold's first pass and how often it agreed with the fold;
    * final: the fit on every question, then its first pass.

    The chains share no data but their starts. Each fit starts where it would in one thread
    (from the previous matcher, else from the first fold's fit: the final chain then waits for
    it), so a run on two threads returns exactly what a run on one does. Most of a fit's time is
    in sparse and BLAS products, which release the GIL, so on two free cores a retrain after an
    edit takes little more than its longer chain.
    """

    def __init__(
        self,
        texts: list[str],
        labels: list[str],
        counts: Counter[str],
        encoder: str,
        c: float,
        kind: str,
        known: dict[str, F32] | None,
        previous: FaqMatcher | None,
        first_pass: bool,
        calibrate_on_oos: bool = True,
    ) -> None:
        self.texts, self.labels, self.counts = texts, labels, counts
        self.calibrate_on_oos = calibrate_on_oos
        self.encoder, self.c, self.kind, self.known = encoder, c, kind, known
        self.previous, self.first_pass = previous, first_pass
        self.first_pass_of_final: tuple[LinearSoftmax, str] | None = None
        # Set by the calibration chain as soon as it has them (the final chain may wait).
        self._folds: Future[list[_Fold]] = Future()
        self._fold_first_pass: Future[None] = Future()

    def run(self, target: float, oos_share: float | None) -> tuple[FaqMatcher, _Calibrated]:
        threads = _training_threads()
        if threads < 2:
            calibrated = self._calibrate(target, oos_share)
            return self._final(), calibrated
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="faq-train") as pool:
            calibrating = pool.submit(self._calibrate, target, oos_share)
            final = pool.submit(self._final)
            return final.result(), calibrating.result()

    def _calibrate(self, target: float, oos_share: float | None) -> _Calibrated:
        try:
            choice, folds = _cross_calibrate(
                self.texts,
                self.labels,
                self.counts,
                self.encoder,
                self.c,
                target,
                oos_share,
                self.kind,
                self.known,
                self.previous,
                self.calibrate_on_oos,
            )
        except BaseException as error:  # the final chain must not wait forever
            self._folds.set_exception(error)
            self._fold_first_pass.set_exception(error)
            raise
        self._folds.set_result(folds)
        calibrated = _Calibrated(choice, folds)
        try:
            if self.first_pass:
                # Not from ``previous``: it saw fold.held; nor from the fold's full model (MiniLM
                # block), a worse start than none for the first pass (static block). From the
                # previous hold-out's first pass when there is one: it never saw fold.held.
                for fold in folds:
                    start = _hold_out_of(self.previous) if fold.stable else None
                    fold.matcher.threshold = choice.threshold
                    if _fit_fast(fold.matcher, self.c, start=start):
                        top, agree = _first_pass_agreement(
                            fold.matcher, fold.held, (fold.predicted, fold.conf)
                        )
                        calibrated.tops.append(top)
                        calibrated.agrees.append(agree)
        finally:
            self._fold_first_pass.set_result(None)
        return calibrated

    def _final(self) -> FaqMatcher:
        # The solver starts from the previous matcher or the first fold's fit: either was fitted
        # on most of the same questions.
        def start() -> _Start | None:
            if self.previous is not None:
                return _Start.of(self.previous)
            folds = self._folds.result()
            return _Start.of(folds[0].matcher) if folds else None

        matcher = _fit(
            self.texts, self.labels, self.encoder, self.c, self.kind, start=start(), known=self.known
        )
        if self.first_pass and (self.previous is not None or self._folds.result()):
            if self.previous is None:
                self._fold_first_pass.result()  # the first fold's first pass is the start
            self.first_pass_of_final = _first_pass_model(matcher, self.c, start=start())
        return matcher


def _training_threads() -> int:
    """Threads for a training's two chains: ``HEEDFUL_ML_THREADS`` if set, else 2 when this
    process may run on two cores or more."""

    chosen = int(os.environ.get("HEEDFUL_ML_THREADS", "0") or 0)
    affinity = getattr(os, "sched_getaffinity", None)  # Linux: the cores this process may use
    cores = len(affinity(0)) if affinity is not None else os.cpu_count() or 1
    return chosen or min(2, cores)


def _first_pass_agreement(
    matcher: FaqMatcher, held_texts: list[str], full: tuple[list[str], F32] | None = None
) -> tuple[F32, F32]:
    """For held-out questions: how sure the first pass is (its top probability) and whether
    its decision (answer, or hand-off at ``matcher.threshold``) is the full model's (``full``:
    the full model's answers and confidences, when already computed)."""
    full_pred, full_conf = full if full is not None else matcher.scores(held_texts)
    held_sparse, probs = matcher._first_pass_probs(held_texts)
    assert matcher.fast is not None  # noqa: S101 - _first_pass_probs raised otherwise
    fast_pred, fast_conf = matcher.scores_with(matcher.fast, probs, held_sparse, None)
    threshold = matcher.threshold
    agree = [
        (fp if fc >= threshold else None) == (p if cf >= threshold else None)
        for p, cf, fp, fc in zip(full_pred, full_conf.tolist(), fast_pred, fast_conf.tolist(), strict=True)
    ]
    # The knowledge base's own phrasings never reach the first pass (see FaqMatcher.match).
    reaches = matcher._phrasing_rows(held_texts) < 0
    return probs.max(axis=1).astype(np.float32)[reaches], np.array(agree, dtype=np.float32)[reaches]


def _set_fast_accept(matcher: FaqMatcher, top: F32, agree: F32) -> None:
    """The lowest first-pass certainty above which its decisions agreed with the full model's
    on >= 99.5 % of held-out questions (never below 0.5)."""
    order = np.argsort(-top, kind="stable")
    rate = np.cumsum(agree[order]) / np.arange(1, len(order) + 1)
    ok = np.where(rate >= 0.995)[0]
    matcher.fast_accept = float(top[order][ok.max()]) if len(ok) else 2.0
    matcher.fast_accept = max(matcher.fast_accept, 0.5)
    matcher.calibration["fast_accept"] = round(matcher.fast_accept, 4)
    matcher.calibration["first_pass"] = matcher.fast_encoder
    matcher.calibration["fast_share_on_validation"] = round(float((top >= matcher.fast_accept).mean()), 4)


def _validation_scores(
    matcher: FaqMatcher,
    val: list[tuple[str, str]],
    texts: list[str],
    labels: list[str],
    counts: Counter[str],
    c: float,
    kind: str,
    known: dict[str, F32],
) -> tuple[list[float], list[bool], list[bool], str]:
    """Confidences, right answers and scope for the validation questions.

    As in the cross-calibration, some answers are left out of a second fit whole; that fit's
    confidences for their validation questions stand for questions about something the
    knowledge base does not cover. A validation set's own out-of-scope questions are as many as
    its author chose (CLINC150's: 100 of 3,100, against 1,000 of 5,500 in its test set); the
    left-out answers add off-topic questions asked in the knowledge base's own words."""
    unseen = set(_unseen_answers(counts, 1))
    val_texts = [t for t, _ in val]
    predicted, conf = matcher.scores(val_texts)
    scores = conf.tolist()
    correct = [p == a for p, a in zip(predicted, (a for _, a in val), strict=True)]
    in_scope = [a != OOS_LABEL for _, a in val]
    asked = [i for i, (_, a) in enumerate(val) if a in unseen]
    if not asked:
        return scores, correct, in_scope, "validation set"
    keep = [i for i, label in enumerate(labels) if label not in unseen]
    fold = _fit(
        [texts[i] for i in keep],
        [labels[i] for i in keep],
        matcher.space.encoder,
        c,
        kind,
        # The final fit never saw a validation question: a fair start, and a quicker fit.
        start=_Start.of(matcher),
        known=known,
    )
    _, fold_conf = fold.scores([val_texts[i] for i in asked])
    for i, value in zip(asked, fold_conf.tolist(), strict=True):
        scores[i], correct[i], in_scope[i] = value, False, False
    method = (
        f"validation set; {len(unseen)} of {len(counts) - (OOS_LABEL in counts)} answers left out "
        f"of a second fit, whose {len(asked)} validation questions stand for questions the "
        "knowledge base does not answer"
    )
    return scores, correct, in_scope, method


@dataclass
class _Fold:
    """One cross-calibration fold: the matcher fitted without the held-out questions, and its
    answers and confidences for them."""

    matcher: FaqMatcher
    held: list[str]
    predicted: list[str]
    conf: F32
    # Held out by :func:`_stable_hold_out` (the same questions whatever else the knowledge base
    # holds), so a later retrain may start its own hold-out fit from this one.
    stable: bool = False


def _cross_calibrate(
    texts: list[str],
    labels: list[str],
    counts: Counter[str],
    encoder: str,
    c: float,
    target: float,
    oos_share: float | None,
    kind: str = CONFIDENCE_KIND,
    known: dict[str, F32] | None = None,
    previous: FaqMatcher | None = None,
    calibrate_on_oos: bool = True,
) -> tuple[ThresholdChoice, list[_Fold]]:
    """Out-of-fold confidences: a stable 20 % hold-out for big FAQs, stratified k-fold for
    small ones."""
    n = len(texts)
    stable = n >= 1000
    counts = _fold_counts(counts, calibrate_on_oos)
    folds = 5 if stable else _small_folds(counts)
    if folds < 2 or len(counts) < 2:
        return choose_threshold([], [], [], target_wrong_rate=target), []
    fold_of = _stable_hold_out(texts) if stable else _stratified_folds(labels, folds, counts)
    if not calibrate_on_oos:
        fold_of = [ALWAYS_TRAINED if labels[i] == OOS_LABEL else f for i, f in enumerate(fold_of)]
    used = range(1) if stable else range(folds)
    start = _hold_out_of(previous) if stable else None
    unseen_in = _unseen_answers(counts, len(used))
    done: list[_Fold] = []
    conf_all: list[float] = []
    correct_all: list[bool] = []
    scope_all: list[bool] = []
    for k in used:
        # An answer unseen in this fold is left out of its fit whole; its phrasings that fall in
        # the fold (or its only one) come back as questions the knowledge base does not answer.
        unseen = {a for a, fold in unseen_in.items() if fold == k}
        train_idx = [i for i in range(n) if fold_of[i] != k and labels[i] not in unseen]
        held_idx = [i for i in range(n) if fold_of[i] == k or (fold_of[i] == -1 and labels[i] in unseen)]
        if len({labels[i] for i in train_idx}) < 2:
            continue
        matcher = _fit(
            [texts[i] for i in train_idx],
            [labels[i] for i in train_idx],
            encoder,
            c,
            kind,
            # Not started from ``previous``: it saw the held-out questions, and a solver that
            # stops near it would carry that into the confidences the threshold comes from.
            # The previous hold-out fit did not see them (the hold-out is stable).
            start=start,
            known=known,
        )
        held = [texts[i] for i in held_idx]
        predicted, conf = matcher.scores(held, dense=_dense(matcher.space, held, known) if known else None)
        done.append(_Fold(matcher, held, predicted, conf, stable))
        conf_all += conf.tolist()
        correct_all += [p == labels[i] for p, i in zip(predicted, held_idx, strict=True)]
        scope_all += [labels[i] != OOS_LABEL and labels[i] not in unseen for i in held_idx]
    choice = choose_threshold(conf_all, correct_all, scope_all, target_wrong_rate=target, oos_share=oos_share)
    return choice, done


# Each calibration fold leaves one answer in UNSEEN_SHARE out whole (at least MIN_UNSEEN_ANSWERS
# answers needed), so about one held-out question in ten is one the fold cannot answer. Those
# phrasings stand for questions about something the knowledge base does not cover, asked in its
# customers' words: the hardest off-topic questions, and the only ones a knowledge base without
# out-of-scope examples (the knowledge app's) can calibrate on. Without them the threshold
# guarded against wrong answers among the owner's own topics only. Until session 20 this took
# ten answers; knowledge bases of four to nine then gave 9 % wrong answers at a 5 % target in
# `heedful eval small-kbs` (12 phrasings each), and 4.5 % with their answers left out too.
UNSEEN_SHARE = 10
MIN_UNSEEN_ANSWERS = 4


def _unseen_answers(counts: Counter[str], folds: int) -> dict[str, int]:
    """Answer -> the calibration fold that does not know it. Chosen by a hash of the answer's
    name alone, so an edit elsewhere never changes it (the stable hold-out fit stays a good
    start for the next retrain); when no answer's hash falls in a fold, the lowest one is left
    out of the first fold, so every knowledge base of MIN_UNSEEN_ANSWERS answers is checked."""
    answers = sorted(a for a in counts if a != OOS_LABEL)
    if len(answers) < MIN_UNSEEN_ANSWERS or folds < 1:
        return {}
    out = {}
    buckets = {}
    for answer in answers:
        buckets[answer] = int(hashlib.sha256(f"unseen\x1f{answer}".encode()).hexdigest()[:8], 16)
        if buckets[answer] % UNSEEN_SHARE < folds:
            out[answer] = buckets[answer] % UNSEEN_SHARE
    if not out:
        out[min(answers, key=lambda a: (buckets[a], a))] = 0
    return out


# A question no calibration fold holds out (an out-of-scope example with calibrate_on_oos off).
ALWAYS_TRAINED = -2


def _fold_counts(counts: Counter[str], calibrate_on_oos: bool) -> Counter[str]:
    """Phrasings per answer that the calibration folds divide (out-of-scope examples that are
    never held out do not decide how many folds there are)."""
    if calibrate_on_oos or OOS_LABEL not in counts:
        return counts
    return Counter({a: c for a, c in counts.items() if a != OOS_LABEL})


def _held_out_count(texts: list[str], counts: Counter[str], calibrate_on_oos: bool = True) -> int:
    """How many out-of-fold questions :func:`_cross_calibrate` will score."""
    n = len(texts)
    if n >= 1000:
        held = _stable_hold_out(texts)
        if calibrate_on_oos:
            return held.count(0)
        # The out-of-scope examples come last (see train).
        return held[: n - counts[OOS_LABEL]].count(0)
    counts = _fold_counts(counts, calibrate_on_oos)
    folds = _small_folds(counts)
    if folds < 2 or len(counts) < 2:
        return 0
    # An unseen answer's only phrasing is held out too, as a question its fold cannot answer.
    unseen_single = sum(1 for a in _unseen_answers(counts, folds) if counts[a] < 2)
    return sum(c for c in counts.values() if c >= 2) + unseen_single


def _cross_method(n: int, counts: Counter[str]) -> str:
    if n >= 1000:
        return "20% hold-out by a hash of the question" + _unseen_note(counts, 1)
    folds = _small_folds(counts)
    if folds < 2 or len(counts) < 2:
        return "none (no answer has 2 phrasings)"
    if min(counts.values()) < 2:
        return f"{folds}-fold cross-validation (answers with one phrasing are never held out)" + _unseen_note(
            counts, folds
        )
    return f"{folds}-fold cross-validation" + _unseen_note(counts, folds)


def _unseen_note(counts: Counter[str], folds: int) -> str:
    unseen = len(_unseen_answers(counts, folds))
    if not unseen:
        return ""
    return (
        f"; {unseen} of {len(counts) - (OOS_LABEL in counts)} answers left out of a fit whole, "
        "their phrasings standing for questions the knowledge base does not answer"
    )


def _small_folds(counts: Counter[str]) -> int:
    """Folds for a small FAQ: up to 5, no more than the fewest phrasings of an answer that has
    two or more. An answer with one phrasing is never held out (its fold would not know it, and
    every such question would count as a wrong answer); it stays in every fold's training."""
    several = [c for c in counts.values() if c >= 2]
    return min(5, min(several)) if several else 0


def _stable_hold_out(texts: list[str]) -> list[int]:
    """Fold 0 (held out) for about one question in five, chosen by a hash of the question's
    text alone: the same questions are held out whatever else the knowledge base holds, and a
    question moved to another answer stays held out. So a fit on the other folds never saw a
    question that a later hold-out holds out, and the next retrain may start from it."""
    return [int(hashlib.sha256(t.encode("utf-8")).hexdigest()[:8], 16) % 5 for t in texts]


def _hold_out_of(previous: FaqMatcher | None) -> _Start | None:
    """Where the previous retrain's stable hold-out fit ended, if it had one."""
    return previous._hold_out_start if previous is not None else None


@dataclass(frozen=True)
class _Start:
    """Weights a fit may start from: a full model, maybe a first pass, and the vocabulary
    their sparse rows follow."""

    tfidf: NgramTfidf
    model: LinearSoftmax
    fast: LinearSoftmax | None = None
    fast_encoder: str = ""

    @classmethod
    def of(cls, matcher: FaqMatcher) -> _Start:
        encoder = matcher.fast_encoder if matcher.fast is not None else ""
        return cls(matcher.space.tfidf, matcher.model, matcher.fast, encoder)

    def kept_on(self, tfidf: NgramTfidf) -> _Start:
        """These weights on ``tfidf``'s vocabulary, in float16: how a matcher keeps its
        hold-out fit's weights in memory and on disk (half the bytes; a start needs no more
        precision). Kept the same way in both, a retrain from a matcher read back from disk
        starts exactly where one from the matcher in memory does."""

        def kept(model: LinearSoftmax) -> LinearSoftmax:
            moved = _moved_to(model, self.tfidf, tfidf)
            w_sparse = moved.w_sparse
            if moved.sparse_weights_stored_sparse:
                # scipy's sparse matrices hold no float16: float32 rounded as float16 would be.
                w_sparse = w_sparse.copy()
                w_sparse.data = w_sparse.data.astype(np.float16).astype(np.float32)
            else:
                w_sparse = w_sparse.astype(np.float16)
            return LinearSoftmax(
                moved.classes,
                w_sparse,
                moved.w_dense.astype(np.float16),
                moved.bias.astype(np.float16),
            )

        fast = None if self.fast is None else kept(self.fast)
        return _Start(tfidf, kept(self.model), fast, self.fast_encoder)


def _stratified_folds(labels: list[str], folds: int, counts: Counter[str]) -> list[int]:
    """Deterministic stratified fold ids: within each label, texts are dealt round-robin; a
    label's only text gets -1 (never held out, see :func:`_small_folds`)."""
    seen: Counter[str] = Counter()
    out = []
    for label in labels:
        out.append(seen[label] % folds if counts[label] >= 2 else -1)
        seen[label] += 1
    return out
