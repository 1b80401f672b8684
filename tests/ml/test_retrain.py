"""Retraining after a knowledge-base edit from the matcher it replaces (``previous``)."""

from __future__ import annotations

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
