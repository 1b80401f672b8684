"""Retraining after a knowledge-base edit from the matcher it replaces (``previous``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from heedful.ml.encoders import minilm_available
from heedful.ml.faq import FaqMatcher
from heedful.ml.linear import LinearSoftmax
from heedful.ml.text import NgramTfidf

from .conftest import FAQ, OOS

EDITED = [(q, a) for q, a in FAQ if a != "delivery"] + [
    ("can i pay by card", "payment"),
    ("do you take cash", "payment"),
    ("is paypal accepted", "payment"),
    ("which payment methods do you accept", "payment"),
]
QUESTIONS = ["when do you open", "where is your shop", "can i pay by card", "play some music please"]


def test_a_start_with_other_answers_gives_the_model_a_cold_fit_gives() -> None:
    texts = [q for q, _ in FAQ]
    labels = [a for _, a in FAQ]
    tfidf = NgramTfidf.fit(texts)
    x = tfidf.transform(texts)
    old = LinearSoftmax.fit(x[:8], labels[:8], tfidf.n_features)  # "hours" and "address" only
    cold = LinearSoftmax.fit(x, labels, tfidf.n_features)
    warm = LinearSoftmax.fit(x, labels, tfidf.n_features, start=old)
    assert warm.classes == cold.classes == ["address", "delivery", "hours"]
    probe = tfidf.transform(["when do you open on sunday", "shipping costs", "your address"])
    assert np.array_equal(
        warm.logits_batch(probe, None).argmax(axis=1), cold.logits_batch(probe, None).argmax(axis=1)
    )
    assert np.allclose(warm.logits_batch(probe, None), cold.logits_batch(probe, None), atol=0.05)


def test_retraining_from_the_previous_matcher_answers_as_a_fresh_fit() -> None:
    before = FaqMatcher.train(FAQ, encoder="tfidf", oos_examples=OOS)
    fresh = FaqMatcher.train(EDITED, encoder="tfidf", oos_examples=OOS)
    again = FaqMatcher.train(EDITED, encoder="tfidf", oos_examples=OOS, previous=before)
    assert again.model.classes == ["address", "hours", "oos", "payment"]
    assert again.threshold == fresh.threshold  # calibrated on folds that never start from `before`
    assert [again.match(q).answer_id for q in QUESTIONS] == [fresh.match(q).answer_id for q in QUESTIONS]
    assert [again.match(q).answer_id for q in QUESTIONS] == ["hours", "address", "payment", None]
    # deterministic for the same previous matcher
    assert FaqMatcher.train(EDITED, encoder="tfidf", oos_examples=OOS, previous=before).match(
        QUESTIONS[2]
    ) == again.match(QUESTIONS[2])


@pytest.mark.skipif(not minilm_available(), reason="MiniLM ONNX artefact not built")
def test_hybrid_retraining_reuses_the_previous_embeddings_and_keeps_its_first_pass() -> None:
    before = FaqMatcher.train(FAQ, encoder="hybrid", oos_examples=OOS)
    again = FaqMatcher.train(EDITED, encoder="hybrid", oos_examples=OOS, previous=before)
    assert before._train_dense is not None
    assert again._train_dense is not None
    # Questions both matchers have carry the previous matcher's (stored, float16-rounded) rows.
    for i, text in enumerate(again.texts):
        if text in before.texts:
            assert np.array_equal(again._train_dense[i], before._train_dense[before.texts.index(text)])
    assert again.first_pass in ("static", "tfidf")
    assert again.calibration["fast_accept_from"] == "out-of-fold questions"
    assert [again.match(q).answer_id for q in QUESTIONS] == ["hours", "address", "payment", None]


def test_training_embeds_each_question_once(tmp_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cross-validation folds, their scoring and the final fit share one embedding pass."""
    from heedful.ml import faq, linear

    from .test_static import _forget_shared, _write_table

    _write_table(tmp_model_dir)
    _forget_shared()
    asked: list[list[str]] = []
    real = linear.embed

    def counting(encoder: str, texts: list[str], weight: float = 1.0) -> np.ndarray:
        asked.append(list(texts))
        return real(encoder, texts, weight)

    monkeypatch.setattr(faq, "embed", counting)
    monkeypatch.setattr(linear, "embed", counting)
    m = FaqMatcher.train(FAQ, encoder="static", oos_examples=OOS)
    assert m.calibration["method"] == "4-fold cross-validation"
    assert len(asked) == 1
    assert asked[0] == sorted([q for q, _ in FAQ] + OOS)
    _forget_shared()


def _big_faq(answers: int, variants: int) -> list[tuple[str, str]]:
    """A knowledge base of >= 1,000 questions (the size that calibrates on a single hold-out)."""
    topics = ["parcel", "refund", "voucher", "invoice", "teapot", "account", "address", "opening"]
    verbs = ["where is my", "how do i change my", "can you check my", "i need help with my"]
    return [
        (f"{verbs[v % 4]} {topics[a % 8]} number {a} please {v}", f"answer-{a}")
        for a in range(answers)
        for v in range(variants)
    ]


def test_big_retrain_holds_out_the_same_questions_and_starts_its_hold_out_fit_warm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from heedful.ml import faq

    before_kb = _big_faq(60, 20)  # 1,200 questions
    gift = [(f"question {i} about gift wrap", "gift") for i in range(20)]
    edited = [(q, a) for q, a in before_kb if a != "answer-7"] + gift
    before = FaqMatcher.train(before_kb, encoder="tfidf")
    assert before._hold_out_start is not None
    assert before._hold_out_start.model.w_sparse.dtype == np.float16
    # The hold-out depends on a question's text alone: what else the knowledge base holds, or
    # the answer it belongs to, does not move it. So the hold-out fit whose weights the next
    # retrain starts from never saw a question that retrain holds out.
    assert (
        faq._stable_hold_out(["where is my parcel number 3 please 1", "x"])[0]
        == faq._stable_hold_out(["where is my parcel number 3 please 1"])[0]
    )
    folds = faq._stable_hold_out([q for q, _ in before_kb])
    held_answers = [a for (_, a), fold in zip(before_kb, folds, strict=True) if fold == 0]
    unseen = faq._unseen_answers(Counter(a for _, a in before_kb), 1)
    assert len(unseen) == 11  # of 60: their held-out phrasings are off-topic questions
    assert before.calibration["n_in_scope"] == sum(a not in unseen for a in held_answers)
    assert before.calibration["n_out_of_scope"] == sum(a in unseen for a in held_answers)
    starts: list[LinearSoftmax | None] = []
    fit = LinearSoftmax.fit

    def recording_fit(*args: object, **kwargs: object) -> LinearSoftmax:
        starts.append(kwargs.get("start"))  # type: ignore[arg-type]
        return fit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setenv("HEEDFUL_ML_THREADS", "1")  # the fits in a known order
    monkeypatch.setattr(LinearSoftmax, "fit", recording_fit)
    again = FaqMatcher.train(edited, encoder="tfidf", previous=before)
    hold_out_start, final_start = starts
    assert hold_out_start is not None
    assert final_start is not None
    # The hold-out fit from the previous hold-out fit's weights, the final fit from `before`'s.
    held = before._hold_out_start.model
    assert np.array_equal(
        hold_out_start.bias, held.bias[[held.classes.index(a) for a in hold_out_start.classes]]
    )
    assert np.array_equal(final_start.bias, before.model.bias)
    monkeypatch.setattr(LinearSoftmax, "fit", fit)
    fresh = FaqMatcher.train(edited, encoder="tfidf")
    assert abs(again.threshold - fresh.threshold) < 0.01
    assert again.match("where is my refund number 9 please 3").answer_id == "answer-9"
    assert fresh.match("where is my refund number 9 please 3").answer_id == "answer-9"
    # Saved with the matcher: a retrain after a restart starts exactly where one in memory does.
    before.save(tmp_path / "m.hml")
    loaded = FaqMatcher.load(tmp_path / "m.hml")
    assert loaded._hold_out_start is not None
    assert np.array_equal(loaded._hold_out_start.model.w_sparse, before._hold_out_start.model.w_sparse)
    from_disk = FaqMatcher.train(edited, encoder="tfidf", previous=loaded)
    assert from_disk.threshold == again.threshold
    assert all(np.array_equal(a, b) for a, b in zip(_weights(from_disk), _weights(again), strict=True))


def test_a_small_faq_keeps_no_hold_out_start(tmp_path: Path) -> None:
    matcher = FaqMatcher.train(FAQ, encoder="tfidf")  # k-fold: no fold is the same next time
    assert matcher._hold_out_start is None
    matcher.save(tmp_path / "m.hml")
    assert FaqMatcher.load(tmp_path / "m.hml")._hold_out_start is None


def _weights(matcher: FaqMatcher) -> list[np.ndarray]:
    models = [matcher.model] + ([matcher.fast] if matcher.fast is not None else [])
    return [_array(w) for m in models for w in (m.w_sparse, m.w_dense, m.bias)]


def _array(w: object) -> np.ndarray:
    return w if isinstance(w, np.ndarray) else w.toarray()  # type: ignore[attr-defined]


def test_a_knowledge_base_of_many_answers_keeps_sparse_weights_through_save_and_retrain(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from heedful.ml import linear

    # Answers about different things, in words of their own (made up, from a fixed seed).
    rng = np.random.default_rng(5)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 7)) for _ in range(180)]
    verbs = ["where is my", "how do i change my", "can you check my", "i need help with my"]
    kb = [
        (f"{verbs[v % 4]} {words[3 * a + v % 3]} {words[3 * a + (v + 1) % 3]} {v}", f"answer-{a}")
        for a in range(60)
        for v in range(20)
    ]
    edited = [(q, a) for q, a in kb if a != "answer-7"] + [(f"gift wrap {i}", "gift") for i in range(20)]
    dense = FaqMatcher.train(kb, encoder="tfidf")
    dense.save(tmp_path / "dense.hml")
    # As a knowledge base of several hundred answers is trained: every fit above the limit.
    monkeypatch.setattr(linear, "FULL_WEIGHTS_UP_TO", 0)
    before = FaqMatcher.train(kb, encoder="tfidf")
    w = before.model.w_sparse
    assert before.model.sparse_weights_stored_sparse
    assert w.shape == (before.space.tfidf.n_features, 60)
    assert w.nnz == 20_403  # of 4,514 x 60: the terms each answer's own questions use
    assert before._hold_out_start is not None
    kept = before._hold_out_start.model.w_sparse.data
    assert kept.dtype == np.float32
    assert np.array_equal(kept, kept.astype(np.float16).astype(np.float32))  # rounded as float16
    questions = [f"where is my {words[27]} {words[28]}", f"can you check my {words[38]}"]
    assert [before.match(q).answer_id for q in questions] == ["answer-9", "answer-12"]
    assert [before.match(q).answer_id for q in questions] == [dense.match(q).answer_id for q in questions]
    # One question at a time and in a batch: the same scores from the sparse weights.
    assert before.match_batch(questions * 4) == [before.match(q) for q in questions] * 4

    before.save(tmp_path / "m.hml")
    assert (tmp_path / "m.hml").stat().st_size < (tmp_path / "dense.hml").stat().st_size
    loaded = FaqMatcher.load(tmp_path / "m.hml")
    assert [loaded.match(q) for q in questions] == [before.match(q) for q in questions]
    assert all(np.array_equal(a, b) for a, b in zip(_weights(loaded), _weights(before), strict=True))
    in_memory = FaqMatcher.train(edited, encoder="tfidf", previous=before)
    from_disk = FaqMatcher.train(edited, encoder="tfidf", previous=loaded)
    assert from_disk.threshold == in_memory.threshold
    assert all(np.array_equal(a, b) for a, b in zip(_weights(from_disk), _weights(in_memory), strict=True))
    assert from_disk.match("gift wrap 3").answer_id == "gift"


@pytest.mark.skipif(not minilm_available(), reason="MiniLM ONNX artefact not built")
def test_training_on_two_threads_gives_exactly_what_one_thread_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    before_kb = _big_faq(60, 20)
    edited = [(q, a) for q, a in before_kb if a != "answer-7"] + [
        (f"gift wrap {i}", "gift") for i in range(20)
    ]
    runs = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("HEEDFUL_ML_THREADS", threads)
        scratch = FaqMatcher.train(before_kb, encoder="hybrid")
        runs[threads] = (scratch, FaqMatcher.train(edited, encoder="hybrid", previous=scratch))
    for one, two in zip(runs["1"], runs["2"], strict=True):
        assert one.first_pass == two.first_pass == "static"
        assert (one.threshold, one.fast_accept, one.version) == (two.threshold, two.fast_accept, two.version)
        assert one.calibration == two.calibration
        assert all(np.array_equal(a, b) for a, b in zip(_weights(one), _weights(two), strict=True))


def test_a_failing_calibration_fit_fails_the_training_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from heedful.ml import faq

    def broken(*args: object, **kwargs: object) -> object:
        raise MemoryError("no room for the hold-out fit")

    monkeypatch.setenv("HEEDFUL_ML_THREADS", "2")
    monkeypatch.setattr(faq, "_cross_calibrate", broken)
    with pytest.raises(MemoryError, match="no room for the hold-out fit"):
        FaqMatcher.train(FAQ, encoder="tfidf")  # the final chain waits for the first fold's fit
