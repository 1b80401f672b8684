"""The agents' pages: list by priority with reasons, the conversation, reply, note, hand back."""

from __future__ import annotations

import pytest

from heedful.inbox import services
from heedful.inbox.models import Author, Channel, Direction, Status
from heedful.inbox.tests.factories import ConversationFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_the_inbox_lists_conversations_by_priority_with_the_reason(agent_client):
    calm = ConversationFactory(
        status=Status.OPEN, priority=1.0, priority_reason="waited 2 h", customer_name="Calm"
    )
    upset = ConversationFactory(
        status=Status.OPEN,
        priority=6.0,
        priority_reason="negative, third contact this week, waited 26 h",
        customer_name="Upset",
    )

    response = agent_client.get("/inbox/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Upset") < html.index("Calm")
    assert "negative, third contact this week, waited 26 h" in html
    assert [c.pk for c in response.context["rows"]] == [upset.pk, calm.pk]


def test_the_inbox_list_takes_a_fixed_number_of_queries(agent_client, django_assert_num_queries):
    for i in range(5):
        ConversationFactory(status=Status.OPEN, priority=float(i))
    agent_client.get("/inbox/")  # warm the session

    with django_assert_num_queries(3):  # session, user, rows with their latest message
        agent_client.get("/inbox/", HTTP_HX_REQUEST="true")


def test_employees_cannot_see_the_inbox(employee_client):
    assert employee_client.get("/inbox/").status_code == 403


def test_the_conversation_shows_messages_orders_and_kb_suggestions(agent_client, fake_engine, shipping_entry):
    conversation = services.start_conversation(channel=Channel.EMAIL, customer_email="anna@example.com")
    OrderFactory(number="HF-10001", customer_email="anna@example.com")
    services.receive_customer_message(conversation=conversation, body="when will my parcel arrive", bot=False)

    response = agent_client.get(f"/inbox/{conversation.pk}/")

    html = response.content.decode()
    assert "when will my parcel arrive" in html
    assert "HF-10001" in html
    assert [e.pk for e, _score in response.context["suggestions"]] == [shipping_entry.pk]


def test_an_agent_reply_is_stored_and_silences_the_bot(agent_client, agent, fake_engine, shipping_entry):
    conversation = ConversationFactory(status=Status.OPEN)

    response = agent_client.post(f"/inbox/{conversation.pk}/reply/", {"body": "Hello from Ana"})

    conversation.refresh_from_db()
    assert response.status_code == 302
    assert conversation.human_has_replied is True
    assert conversation.status == Status.WAITING
    assert conversation.assignee == agent
    assert list(conversation.messages.values_list("author_kind", "body")) == [
        (Author.AGENT, "Hello from Ana")
    ]


def test_a_note_is_internal(agent_client):
    conversation = ConversationFactory(status=Status.OPEN)

    agent_client.post(f"/inbox/{conversation.pk}/note/", {"body": "Call her back"})

    assert list(conversation.messages.values_list("direction", "body")) == [
        (Direction.INTERNAL, "Call her back")
    ]


def test_handing_back_lets_the_bot_answer_again(agent_client, agent):
    conversation = ConversationFactory(
        status=Status.WAITING, human_has_replied=True, bot_answers_unconfirmed=2
    )

    agent_client.post(f"/inbox/{conversation.pk}/hand-back/")

    conversation.refresh_from_db()
    assert (conversation.status, conversation.human_has_replied, conversation.bot_answers_unconfirmed) == (
        Status.BOT,
        False,
        0,
    )


def test_the_message_list_partial_is_served_for_polling(agent_client):
    conversation = ConversationFactory(status=Status.OPEN)
    services.receive_customer_message(conversation=conversation, body="anyone there?", bot=False)

    response = agent_client.get(f"/inbox/{conversation.pk}/messages/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "anyone there?" in response.content.decode()
    assert "<html" not in response.content.decode()


def test_an_agent_tags_a_conversation_once(agent_client):
    conversation = ConversationFactory(status=Status.OPEN)

    agent_client.post(f"/inbox/{conversation.pk}/tag/", {"tag": " Refund "})
    agent_client.post(f"/inbox/{conversation.pk}/tag/", {"tag": "refund"})

    conversation.refresh_from_db()
    assert conversation.tags == ["refund"]
    assert "refund" in agent_client.get(f"/inbox/{conversation.pk}/").content.decode()
