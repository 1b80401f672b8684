"""Fixtures shared by the knowledge and inbox tests (imported by their conftest files)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from heedful.knowledge import matching
from heedful.knowledge.tests.fake_engine import FakeFaqMatcher


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeFaqMatcher]]:
    """The text engine replaced by a word-overlap matcher with a threshold of 0.6."""
    monkeypatch.setattr(matching, "_engine", lambda: FakeFaqMatcher)
    matching.forget_trained()
    yield FakeFaqMatcher
    matching.forget_trained()


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(matching, "_engine", lambda: None)
    matching.forget_trained()
    yield
    matching.forget_trained()


@pytest.fixture
def shipping_entry(db: Any) -> Any:
    from heedful.knowledge.services import create_faq_entry

    return create_faq_entry(
        question="How long does shipping take?",
        variants=["When will my parcel arrive", "delivery time"],
        answer="We ship within 2 working days; delivery takes 1–3 days.",
        article_url="https://shop.example/help/shipping",
        automation="tests",
    )


@pytest.fixture
def returns_entry(db: Any) -> Any:
    from heedful.knowledge.services import create_faq_entry

    return create_faq_entry(
        question="How do I return an item?",
        variants=["return policy", "send something back"],
        answer="You can return anything within 30 days using the form in your account.",
        automation="tests",
    )


TOPICS = [
    "opening hours",
    "delivery",
    "returns",
    "gift cards",
    "parking",
    "allergens",
    "loyalty points",
    "invoices",
    "sizes",
    "repairs",
    "vouchers",
    "wholesale",
]


def create_topic_entries() -> None:
    """Twelve entries of five phrasings each: enough held-out questions for the matcher to
    calibrate its threshold (not a thin knowledge base)."""
    from heedful.knowledge.services import create_faq_entry

    for topic in TOPICS:
        create_faq_entry(
            question=f"What about {topic}?",
            variants=[
                f"tell me about {topic}",
                f"question on {topic}",
                f"help with {topic}",
                f"{topic} info",
            ],
            answer=f"All about {topic}.",
            automation="tests",
        )
