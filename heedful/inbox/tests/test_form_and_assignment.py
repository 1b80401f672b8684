"""The public web form as a channel; round-robin assignment of hand-offs."""

from __future__ import annotations

import pytest
from django.test import Client

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.inbox import services
from heedful.inbox.models import Author, Channel, Conversation, Delivery

pytestmark = pytest.mark.django_db


def test_the_web_form_starts_a_conversation_answered_by_email(fake_engine, shipping_entry):
    response = Client().post(
        "/inbox/contact/",
        {
            "name": "Anna",
            "email": "anna@example.com",
            "subject": "Shipping",
            "text": "how long does shipping take",
        },
    )

    assert response.status_code == 200
    conversation = Conversation.objects.get()
    assert (conversation.channel, conversation.customer_email) == (Channel.FORM, "anna@example.com")
    answer = conversation.messages.get(author_kind=Author.BOT)
    assert answer.delivery == Delivery.PENDING
    assert answer.actions == []
    assert answer.body.endswith('reply "didn\'t help", or "person" to reach someone on our team.')


def test_an_invalid_form_stores_nothing():
    response = Client().post("/inbox/contact/", {"email": "not-an-email", "text": "hi"})

    assert response.status_code == 200
    assert Conversation.objects.count() == 0


def test_hand_offs_go_to_agents_in_turn(no_engine, settings):
    settings.HEEDFUL_INBOX_ROUND_ROBIN = True
    ana = UserFactory(email="ana@example.com", role=Role.AGENT)
    bo = UserFactory(email="bo@example.com", role=Role.AGENT)
    UserFactory(email="olivia@example.com", role=Role.OWNER)

    assignees = []
    for _ in range(3):
        conversation = services.start_conversation(channel=Channel.CHAT)
        services.receive_customer_message(conversation=conversation, body="a person please")
        conversation.refresh_from_db()
        assignees.append(conversation.assignee)

    assert assignees == [ana, bo, ana]


def test_without_round_robin_hand_offs_wait_unassigned(no_engine, settings, agent):
    settings.HEEDFUL_INBOX_ROUND_ROBIN = False
    conversation = services.start_conversation(channel=Channel.CHAT)

    services.receive_customer_message(conversation=conversation, body="a person please")

    conversation.refresh_from_db()
    assert conversation.assignee is None
