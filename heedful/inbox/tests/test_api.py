"""The inbox API: the API as a channel, shop upserts, conversations by priority."""

from __future__ import annotations

import pytest

from heedful.inbox.models import Conversation, Order, Status
from heedful.inbox.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def test_a_message_through_the_api_gets_the_bots_answer(api_client_for, agent, fake_engine, shipping_entry):
    client = api_client_for(agent)

    response = client.post(
        "/api/v1/inbox/messages/",
        {"email": "anna@example.com", "name": "Anna", "text": "how long does shipping take"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert [m["author_kind"] for m in body["messages"]] == ["customer", "bot"]
    assert body["messages"][1]["body"].startswith("We ship within 2 working days")
    assert Conversation.objects.get(pk=body["conversation"]).channel == "api"


def test_orders_are_upserted_by_number_and_need_the_import_permission(api_client_for, manager, agent):
    payload = {"number": "HF-7", "customer_email": "anna@example.com", "status": "placed", "total": "12.50"}

    refused = api_client_for(agent).post("/api/v1/inbox/orders/", payload, format="json")
    created = api_client_for(manager).post("/api/v1/inbox/orders/", payload, format="json")
    updated = api_client_for(manager).post(
        "/api/v1/inbox/orders/", {**payload, "status": "packed"}, format="json"
    )

    assert (refused.status_code, created.status_code, updated.status_code) == (403, 201, 200)
    assert list(Order.objects.values_list("number", "status")) == [("HF-7", "packed")]


def test_conversations_are_listed_by_priority(api_client_for, agent):
    low = ConversationFactory(status=Status.OPEN, priority=1.0)
    high = ConversationFactory(status=Status.OPEN, priority=5.0, priority_reason="negative")

    response = api_client_for(agent).get("/api/v1/inbox/conversations/?status=open")

    assert [c["id"] for c in response.json()["results"]] == [high.pk, low.pk]
    assert response.json()["results"][0]["priority_reason"] == "negative"
