"""The chat's hot path: the widget's poll in one statement, and fewer writes per message.

These run against the real database of the test run (SQLite or PostgreSQL) and the real
services; only the text engine is the word-overlap stand-in (fake_engine).
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from heedful.inbox import chat
from heedful.inbox.models import ChatVisitor, Conversation
from heedful.inbox.services import add_internal_note, reply_as_agent

pytestmark = pytest.mark.django_db
SHOP = "https://shop.example"
API = "/inbox/widget/api/"


@pytest.fixture(autouse=True)
def _widget_settings(settings):  # type: ignore[no-untyped-def]
    settings.HEEDFUL_WIDGET_ALLOWED_ORIGINS = [SHOP]
    cache.clear()


def _start(client: Client) -> str:
    response = client.post(API + "session", "{}", content_type="application/json", HTTP_ORIGIN=SHOP)
    return str(response.json()["token"])


def _say(client: Client, token: str, text: str) -> dict:  # type: ignore[type-arg]
    response = client.post(
        API + "messages",
        json.dumps({"text": text}),
        content_type="application/json",
        HTTP_ORIGIN=SHOP,
        HTTP_X_HEEDFUL_VISITOR=token,
    )
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _poll(client: Client, token: str, after: int):  # type: ignore[no-untyped-def]
    return client.get(f"{API}messages?after={after}", HTTP_ORIGIN=SHOP, HTTP_X_HEEDFUL_VISITOR=token)


def test_a_poll_with_nothing_new_costs_one_query(fake_engine, shipping_entry, django_assert_num_queries):
    client = Client()
    token = _start(client)
    last = _say(client, token, "How long does shipping take?")["messages"][-1]["id"]

    with django_assert_num_queries(1):
        response = _poll(client, token, last)

    assert response.status_code == 200
    assert response.json() == {"messages": []}


def test_an_answered_chat_message_costs_13_statements(fake_engine, shipping_entry, django_assert_num_queries):
    client = Client()
    token = _start(client)
    _say(client, token, "How long does shipping take?")  # starts the conversation

    # Visitor; the KB's one-row fingerprint, read before the transaction to ready the matcher
    # (a retrain must not hold the write lock); "did we write?"; the message; the workflow
    # event (listeners?, insert); the fingerprint again, inside; the auto-answer policy; the
    # decision; the answer; the decision's outcome; the conversation; the messages to return.
    # Not read: the customer's earlier
    # messages (order questions only), the last answer's entry ("didn't help" only), the KB's
    # examples and the matched entry (kept with the unchanged fingerprint). The other 6 are
    # savepoints, set and released: the test's transaction makes the chat's own atomic block
    # one, and receive_customer_message and emit_event nest theirs.
    with django_assert_num_queries(13 + 6):
        messages = _say(client, token, "delivery time")["messages"]

    assert (messages[-1]["author"], messages[-1]["text"][:20]) == ("bot", "We ship within 2 wor")


def test_a_poll_before_the_first_message_finds_nothing():
    client = Client()
    token = _start(client)

    response = _poll(client, token, 0)

    assert response.json() == {"messages": []}


def test_a_poll_with_an_unknown_token_is_refused():
    response = _poll(Client(), "made-up", 0)

    assert response.status_code == 401
    assert response.json() == {"error": "Unknown visitor; start a session first."}


def test_the_agents_reply_comes_with_the_next_poll_and_notes_never_do(fake_engine, shipping_entry, agent):
    agent.first_name = "Mia"
    agent.save()
    client = Client()
    token = _start(client)
    first = _say(client, token, "I'd like to talk to a person.")["messages"]
    conversation = Conversation.objects.get()
    add_internal_note(conversation=conversation, user=agent, body="VIP, be nice")
    nothing_yet = _poll(client, token, first[-1]["id"]).json()
    reply = reply_as_agent(conversation=conversation, user=agent, body="Hello, Mia here.")
    add_internal_note(conversation=conversation, user=agent, body="replied")

    polled = _poll(client, token, first[-1]["id"]).json()["messages"]

    assert [m["author"] for m in first] == ["customer", "bot"]
    assert nothing_yet == {"messages": []}
    assert [(m["id"], m["author"], m["name"], m["text"]) for m in polled] == [
        (reply.pk, "agent", "Mia", "Hello, Mia here.")
    ]


def test_last_seen_is_written_once_a_minute_not_on_every_message(fake_engine, shipping_entry):
    client = Client()
    token = _start(client)
    _say(client, token, "How long does shipping take?")
    first_seen = ChatVisitor.objects.get().last_seen_at
    _say(client, token, "delivery time")
    unchanged = ChatVisitor.objects.get().last_seen_at
    ChatVisitor.objects.update(last_seen_at=first_seen - timedelta(minutes=2))
    _say(client, token, "When will my parcel arrive")

    assert unchanged == first_seen
    assert first_seen <= ChatVisitor.objects.get().last_seen_at <= timezone.now()


def test_one_writer_lets_one_thread_in_at_a_time_on_sqlite():
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL writers do not exclude each other, so no lock is taken there")
    inside: list[int] = []
    overlaps: list[int] = []
    gate = threading.Lock()

    def write(n: int) -> None:
        with chat.one_writer():
            with gate:
                inside.append(n)
                overlaps.extend(inside[:-1])
            threading.Event().wait(0.01)
            with gate:
                inside.remove(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert overlaps == []
    assert inside == []


@pytest.mark.django_db(transaction=True)
def test_the_matcher_is_readied_before_the_message_transaction_on_every_customer_channel(
    fake_engine, shipping_entry, agent, monkeypatch, api_client_for
):
    # A retrain after a knowledge-base edit can take a minute; waited out inside the message's
    # transaction, it held SQLite's write lock and another person's save failed meanwhile.
    from django.db import connection

    from heedful.inbox import services
    from heedful.knowledge import matching

    in_transaction: list[bool] = []
    real_ready = matching.ready

    def watched_ready(wait: float | None = None) -> bool:
        in_transaction.append(connection.in_atomic_block)
        return real_ready(wait)

    monkeypatch.setattr(matching, "ready", watched_ready)
    client = Client()
    _say(client, _start(client), "delivery time")
    services.submit_contact_form(email="ana@example.com", name="Ana", subject="Hi", text="delivery time")
    api_client_for(agent).post(
        "/api/v1/inbox/messages/", {"email": "ben@example.com", "text": "delivery time"}, format="json"
    )

    assert in_transaction == [False, False, False]
