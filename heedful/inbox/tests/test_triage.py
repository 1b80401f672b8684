"""Triage: each inbound message gets intent, sentiment, frustration and urgency; the inbox sorts
by a priority whose reason reads in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from heedful.inbox import services, triage
from heedful.inbox.models import Channel, Conversation, Status
from heedful.inbox.tests.factories import ConversationFactory, OrderFactory
from heedful.ml.sentiment import Sentiment

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def negative(text: str) -> Sentiment:
    return Sentiment(
        "negative", {"negative": 0.9, "neutral": 0.05, "positive": 0.05}, (("late", 1.0),), "fast", "t"
    )


def test_the_reason_reads_in_words():
    latest = triage.MessageTriage("order_status", "negative", 0.9, 0.2, 0.0)

    priority = triage.priority_for(
        latest,
        contacts_this_week=3,
        waiting_since=NOW - timedelta(hours=26),
        now=NOW,
        customer_value=Decimal("0"),
    )

    assert priority.reason == "negative, third contact this week, waited 26 h"
    assert priority.score == 2.0 + 2.0 + 26 / 8


def test_frustration_urgency_and_customer_value_count_and_say_so():
    latest = triage.MessageTriage("question", "neutral", 0.8, 0.8, 1.0)

    priority = triage.priority_for(
        latest, contacts_this_week=1, waiting_since=None, now=NOW, customer_value=Decimal("620")
    )

    assert priority.reason == "frustrated, urgent, customer value 620"
    assert priority.score == round(3.0 * 0.8 + 2.0 + 1.0, 3)


def test_a_calm_new_message_has_no_priority():
    latest = triage.MessageTriage("question", "neutral", 0.8, 0.0, 0.0)

    priority = triage.priority_for(
        latest, contacts_this_week=1, waiting_since=NOW, now=NOW, customer_value=Decimal(0)
    )

    assert (priority.score, priority.reason) == (0.0, "")


def test_urgent_words_raise_urgency():
    assert triage.urgency_of("I need this today, it's urgent") == 1.0
    assert triage.urgency_of("whenever suits you") == 0.0


@pytest.mark.django_db
def test_each_inbound_message_is_triaged_and_the_inbox_sorted_by_it(monkeypatch, no_engine):
    monkeypatch.setattr(triage, "analyse_sentiment", negative)
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    for _ in range(2):
        ConversationFactory(channel=Channel.EMAIL, customer_email="cross@example.com", status=Status.RESOLVED)
    OrderFactory(customer_email="cross@example.com", total=Decimal("80"))
    calm = services.start_conversation(channel=Channel.CHAT)
    services.receive_customer_message(conversation=calm, body="hello", bot=False)
    upset = services.start_conversation(channel=Channel.EMAIL, customer_email="cross@example.com")

    message = services.receive_customer_message(
        conversation=upset, body="STILL waiting for my order!! This is unacceptable", bot=False
    )

    assert (message.intent, message.sentiment, message.sentiment_score) == ("order_status", "negative", 0.9)
    assert message.frustration is not None
    assert message.frustration > 0.9
    upset.refresh_from_db()
    assert upset.priority_reason == "negative, frustrated, urgent, third contact this week"
    assert list(Conversation.objects.filter(status=Status.BOT).order_by("-priority")) == [upset, calm]
