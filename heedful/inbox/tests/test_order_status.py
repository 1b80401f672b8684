"""Order status only for the order's owner; another customer's order, its existence included,
is never revealed (issue 4, part 5)."""

from __future__ import annotations

import pytest

from heedful.inbox import orders, services
from heedful.inbox.models import Author, Channel, Status
from heedful.inbox.tests.factories import ConversationFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _engine(fake_engine):  # type: ignore[no-untyped-def]
    """Order answers never need the FAQ matcher; it is there to show it is not what answers."""


@pytest.fixture
def annas_order():  # type: ignore[no-untyped-def]
    return OrderFactory(number="HF-10001", customer_email="anna@example.com", postcode="10115")


@pytest.fixture
def bens_order():  # type: ignore[no-untyped-def]
    return OrderFactory(number="HF-20002", customer_email="ben@example.com", postcode="SW1A 1AA")


def last_reply(conversation, text):  # type: ignore[no-untyped-def]
    services.receive_customer_message(conversation=conversation, body=text)
    conversation.refresh_from_db()
    return conversation.messages.filter(author_kind=Author.BOT).order_by("-id").first()


def test_chat_answers_with_order_number_and_the_orders_email(annas_order):
    conversation = ConversationFactory(channel=Channel.CHAT)

    reply = last_reply(conversation, "Where is my order HF-10001? anna@example.com")

    assert reply.body == (
        "Your order HF-10001 is shipped. It travels with DHL. Track it here: https://track.example/HF-10001"
    )
    assert reply.decision.output["order_number"] == "HF-10001"
    assert reply.decision.factors == [
        {"text": "order HF-10001 named or found", "weight": 1.0},
        {"text": "ownership: order number and the order's email address given", "weight": 1.0},
    ]


def test_chat_answers_with_order_number_and_postcode_given_in_two_messages(bens_order):
    conversation = ConversationFactory(channel=Channel.CHAT)
    first = last_reply(conversation, "where is my order?")
    assert first.body == orders.ask_for_details(Channel.CHAT)

    reply = last_reply(conversation, "HF-20002, postcode sw1a 1aa")

    assert reply.body.startswith("Your order HF-20002 is shipped.")


def test_chat_finds_the_postcode_in_an_earlier_message_when_the_number_comes_later(bens_order):
    conversation = ConversationFactory(channel=Channel.CHAT)
    last_reply(conversation, "How is my order doing? My postcode is SW1A 1AA.")

    reply = last_reply(conversation, "It is HF-20002")

    assert reply.body.startswith("Your order HF-20002 is shipped.")


def test_chat_gives_the_same_reply_for_someone_elses_order_and_a_missing_one(annas_order, bens_order):
    someone_elses = ConversationFactory(channel=Channel.CHAT)
    missing = ConversationFactory(channel=Channel.CHAT)

    reply_other = last_reply(someone_elses, "Where is my order HF-20002? anna@example.com")
    reply_missing = last_reply(missing, "Where is my order HF-99999? anna@example.com")

    assert reply_other.body == orders.NOT_MATCHED
    assert reply_missing.body == orders.NOT_MATCHED
    assert "HF-20002" not in str(reply_other.decision.output) + str(reply_other.decision.factors)
    assert reply_other.decision.output == reply_missing.decision.output


def test_chat_never_accepts_the_order_number_alone(annas_order):
    conversation = ConversationFactory(channel=Channel.CHAT)

    reply = last_reply(conversation, "status of order HF-10001")

    assert reply.body == orders.NOT_MATCHED
    assert "shipped" not in reply.body


def test_chat_hands_off_after_the_second_failed_check(annas_order):
    conversation = ConversationFactory(channel=Channel.CHAT)
    last_reply(conversation, "order HF-10001 ben@example.com")

    reply = last_reply(conversation, "order HF-10001 postcode 99999")

    assert conversation.status == Status.OPEN
    assert reply.decision.output["reason"] == "the order details could not be matched twice"
    assert "shipped" not in "".join(conversation.messages.values_list("body", flat=True))


def test_email_answers_the_sender_about_their_own_order(annas_order):
    conversation = ConversationFactory(channel=Channel.EMAIL, customer_email="anna@example.com")

    reply = last_reply(conversation, "Hi, where is my order HF-10001?")

    assert reply.body.startswith("Your order HF-10001 is shipped.")
    assert reply.delivery == "pending"


def test_email_refuses_someone_elses_order_even_with_their_email_in_the_text(annas_order, bens_order):
    conversation = ConversationFactory(channel=Channel.EMAIL, customer_email="anna@example.com")

    reply = last_reply(conversation, "where is order HF-20002 of ben@example.com, postcode SW1A 1AA")

    assert reply.body == orders.NOT_MATCHED


def test_email_without_a_number_answers_about_the_senders_latest_order(annas_order):
    conversation = ConversationFactory(channel=Channel.EMAIL, customer_email="anna@example.com")

    reply = last_reply(conversation, "where is my order??")

    assert reply.body.startswith("Your order HF-10001 is shipped.")


def test_stock_questions_are_answered_from_product_data():
    ProductFactory(sku="TEA-001", name="Sencha Kyoto", stock=3)
    ProductFactory(sku="TEA-002", name="Assam Gold", stock=0, restock_date="2026-12-10")
    conversation = ConversationFactory(channel=Channel.CHAT)

    first = last_reply(conversation, "Is Sencha Kyoto in stock?")
    services.record_feedback(conversation=conversation, message_id=first.pk, choice="helped")
    second = last_reply(conversation, "do you have assam gold")

    assert first.body == "Yes, Sencha Kyoto is in stock (only 3 left)."
    assert second.body == "Assam Gold is out of stock right now; we expect it back on 10 December."
