"""Fixtures for the text-engine tests: tiny fixed data, no database, no Django settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from heedful.ml.faq import FaqMatcher
from heedful.ml.sentiment import SentimentModel, train

FAQ = [
    ("when do you open", "hours"),
    ("what are your opening hours", "hours"),
    ("are you open on sunday", "hours"),
    ("what time do you close", "hours"),
    ("where is your shop", "address"),
    ("what is your address", "address"),
    ("how do i find you", "address"),
    ("where are you located", "address"),
    ("do you deliver", "delivery"),
    ("how much is shipping", "delivery"),
    ("can you send it to my home", "delivery"),
    ("how long does delivery take", "delivery"),
]
OOS = ["what is the capital of peru", "tell me a joke", "my car broke down", "play some music"]

SENTIMENT_TRAIN = [
    ("great service, thank you so much", "positive"),
    ("love it, amazing staff", "positive"),
    ("thanks, very helpful and quick", "positive"),
    ("awesome, best shop in town", "positive"),
    ("terrible, still waiting for my refund", "negative"),
    ("worst experience ever, cancel my order", "negative"),
    ("my parcel is late again, not happy", "negative"),
    ("rude staff and broken product", "negative"),
    ("what time do you open tomorrow", "neutral"),
    ("is the blue one in stock", "neutral"),
    ("please send me the invoice", "neutral"),
    ("do you have a store in leeds", "neutral"),
]


@pytest.fixture(scope="session")
def matcher() -> FaqMatcher:
    return FaqMatcher.train(FAQ, encoder="tfidf", oos_examples=OOS)


@pytest.fixture(scope="session")
def sentiment_model() -> SentimentModel:
    return train(SENTIMENT_TRAIN, SENTIMENT_TRAIN, with_minilm=False)


@pytest.fixture
def tmp_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEEDFUL_MODEL_DIR", str(tmp_path))
    return tmp_path
