"""Sentiment, frustration: explanations, persistence, missing artefact."""

from __future__ import annotations

from pathlib import Path

import pytest

from heedful.ml import sentiment as sentiment_module
from heedful.ml.frustration import ConversationSignals, score_frustration
from heedful.ml.sentiment import SentimentModel, SentimentUnavailable, analyse_sentiment


def test_three_class_probabilities_and_explanation(sentiment_model: SentimentModel) -> None:
    s = sentiment_model.analyse("still waiting for my refund, terrible")
    assert s.label == "negative"
    assert set(s.probabilities) == {"negative", "neutral", "positive"}
    assert sum(s.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    words = [w for w, _ in s.top_words]
    assert "refund" in words or "terrible" in words or "still" in words
    assert all(w not in ("my", "for") for w in words)
    assert s.model == "fast"
    assert s.model_version.startswith("sentiment-fast-")
    assert s.explanation.startswith("negative (")


def test_sentiment_deterministic_and_round_trip(sentiment_model: SentimentModel, tmp_path: Path) -> None:
    path = tmp_path / "s.hml"
    sentiment_model.save(path)
    loaded = SentimentModel.load(path)
    for text in ["love it, thanks", "", "🙂", "x" * 1_000_000, "\x00\x1f", "très bien merci"]:
        assert loaded.analyse(text) == sentiment_model.analyse(text)


def test_missing_artefact_is_a_clear_error(tmp_model_dir: Path) -> None:
    sentiment_module._CACHE.clear()
    with pytest.raises(SentimentUnavailable, match="heedful ml build"):
        analyse_sentiment("hello")


def test_frustration_uses_conversation_signals_with_reasons() -> None:
    calm = score_frustration("could you tell me your opening hours?")
    assert calm.score == 0.0
    assert calm.urgency == "low"
    assert calm.reasons == ()
    angry = score_frustration(
        "I STILL HAVE NOT GOT MY REFUND!!! Cancel it.",
        ConversationSignals(repeat_contacts=3, minutes_waited=24 * 60, previous_unresolved=True),
    )
    assert angry.urgency == "high"
    assert angry.score > 0.95
    assert angry.reasons == (
        "contacted us 3 times before about this",
        "has waited 24 h for a reply",
        "an earlier request was closed without a fix",
        "asks for a refund",
        "mentions cancelling",
        "uses 3 exclamation marks",
        "writes in capitals",
        "says 'still'",
    )


def test_frustration_includes_sentiment(sentiment_model: SentimentModel) -> None:
    mood = sentiment_model.analyse("terrible, still waiting for my refund")
    f = score_frustration("terrible, still waiting for my refund", sentiment=mood)
    assert any(r.startswith("the message reads negative") for r in f.reasons)
    assert score_frustration("need it today", None).urgency == "medium"
