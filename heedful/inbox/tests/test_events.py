"""The inbox's workflow events: exactly which, with which payload and subject, from which service."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Q

from heedful.crm import services as crm
from heedful.inbox import services
from heedful.inbox.models import Channel
from heedful.inbox.tests.factories import OrderFactory
from heedful.workflows.models import Event

pytestmark = pytest.mark.django_db


def _events(since: int = 0) -> list[tuple[str, dict[str, Any], str, str]]:
    """The inbox's own events (crm's ``contact.created`` for a new address is crm's business)."""
    ours = Q(name__startswith="conversation.") | Q(name__startswith="lead.")
    return [
        (e.name, e.payload, e.subject_type, e.subject_id)
        for e in Event.objects.filter(ours, pk__gt=since).order_by("id")
    ]


def _last_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_an_email_conversation_from_start_to_resolution(no_engine, agent):
    conversation = services.start_conversation(
        channel=Channel.EMAIL, customer_email="anna@example.com", customer_name="Anna Berg"
    )
    contact = {"id": conversation.contact_id, "email": "anna@example.com", "first_name": "Anna"}
    cid, sid = conversation.pk, str(conversation.contact_id)

    services.receive_customer_message(conversation=conversation, body="Where is my tea?")  # bot hands off
    services.reply_as_agent(conversation=conversation, user=agent, body="On its way.")
    services.receive_customer_message(conversation=conversation, body="Thanks!")
    services.resolve_conversation(conversation=conversation, user=agent)

    assert _events() == [
        (
            "conversation.created",
            {"contact": contact, "conversation_id": cid, "channel": "email", "assignee_email": ""},
            "contact",
            sid,
        ),
        (
            "conversation.agent_replied",
            {"contact": contact, "conversation_id": cid, "agent_email": "ana@example.com"},
            "contact",
            sid,
        ),
        (
            "conversation.customer_replied",
            {"contact": contact, "conversation_id": cid, "assignee_email": "ana@example.com"},
            "contact",
            sid,
        ),
        (
            "conversation.resolved",
            {
                "contact": contact,
                "conversation_id": cid,
                "assignee_email": "ana@example.com",
                "automatically": False,
            },
            "contact",
            sid,
        ),
    ]


def test_a_chat_visitor_without_a_contact_is_the_conversation(no_engine):
    conversation = services.start_conversation(channel=Channel.CHAT)
    services.receive_customer_message(conversation=conversation, body="hello")
    services.receive_customer_message(conversation=conversation, body="anyone?")

    assert _events() == [
        (
            "conversation.created",
            {"contact": None, "conversation_id": conversation.pk, "channel": "chat", "assignee_email": ""},
            "conversation",
            str(conversation.pk),
        ),
        (
            "conversation.customer_replied",
            {"contact": None, "conversation_id": conversation.pk, "assignee_email": ""},
            "conversation",
            str(conversation.pk),
        ),
    ]


def test_a_lead_answering_us_is_lead_replied(no_engine, agent):
    lead = crm.capture_lead(email="leo@example.com", first_name="Leo", source="web_form")
    conversation = services.start_conversation(channel=Channel.EMAIL, customer_email="leo@example.com")
    services.receive_customer_message(conversation=conversation, body="Do you deliver to Vienna?")
    services.reply_as_agent(conversation=conversation, user=agent, body="We do.")
    before = _last_event_id()

    services.receive_customer_message(conversation=conversation, body="Great, then I order.")

    contact = {"id": lead.contact.pk, "email": "leo@example.com", "first_name": "Leo"}
    assert [(name, payload) for name, payload, _t, _i in _events(before)] == [
        (
            "conversation.customer_replied",
            {"contact": contact, "conversation_id": conversation.pk, "assignee_email": "ana@example.com"},
        ),
        ("lead.replied", {"contact": contact, "conversation_id": conversation.pk}),
    ]


def test_a_customer_who_ordered_is_no_lead_any_more(no_engine, agent):
    crm.capture_lead(email="leo@example.com", first_name="Leo", source="web_form")
    OrderFactory(customer_email="leo@example.com")
    conversation = services.start_conversation(channel=Channel.EMAIL, customer_email="leo@example.com")
    services.reply_as_agent(conversation=conversation, user=agent, body="Hello Leo")
    before = _last_event_id()

    services.receive_customer_message(conversation=conversation, body="Hi")

    assert [name for name, *_rest in _events(before)] == ["conversation.customer_replied"]


def test_an_order_update_we_send_is_no_conversation_created(no_engine):
    order = OrderFactory(customer_email="anna@example.com")

    services.send_order_update(order, "shipped")

    assert _events() == []
