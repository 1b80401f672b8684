"""The bot's invariants (issue 4, part 4): each one a behaviour sentence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from heedful.governance.models import ActionPolicy, DecisionRecord
from heedful.inbox import services
from heedful.inbox.models import Author, Status
from heedful.inbox.tests.factories import ConversationFactory
from heedful.knowledge.services import update_faq_entry

pytestmark = pytest.mark.django_db

# A Wednesday, 10:00 UTC: the business (mon-fri 09:00-17:00 UTC) is open.
WEDNESDAY_10 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _open_hours(settings, monkeypatch):  # type: ignore[no-untyped-def]
    settings.HEEDFUL_BUSINESS_HOURS = "mon-fri 09:00-17:00"
    settings.BUSINESS_TIME_ZONE = "UTC"
    settings.HEEDFUL_SLA_FIRST_RESPONSE_MINUTES = 240
    settings.HEEDFUL_BOT_MAX_UNCONFIRMED_ANSWERS = 2
    monkeypatch.setattr(timezone, "now", lambda: WEDNESDAY_10)


def say(conversation, text):  # type: ignore[no-untyped-def]
    services.receive_customer_message(conversation=conversation, body=text)
    conversation.refresh_from_db()
    return list(conversation.messages.order_by("id"))


def bot_messages(conversation):  # type: ignore[no-untyped-def]
    return list(conversation.messages.filter(author_kind=Author.BOT).order_by("id"))


def test_it_answers_a_confident_match_with_a_way_to_say_it_did_not_help(fake_engine, shipping_entry):
    conversation = ConversationFactory()

    messages = say(conversation, "how long does shipping take")

    reply = messages[-1]
    assert reply.author_kind == Author.BOT
    assert reply.body == (
        "We ship within 2 working days; delivery takes 1–3 days.\n\n"
        "Read more: https://shop.example/help/shipping"
    )
    assert [a["id"] for a in reply.actions] == ["helped", "not_helped", "person"]
    assert reply.faq_entry_id == shipping_entry.pk
    assert conversation.status == Status.BOT
    assert conversation.bot_answers_unconfirmed == 1


def test_every_bot_answer_writes_a_decision_record_with_entry_confidence_and_threshold(
    fake_engine, shipping_entry
):
    conversation = ConversationFactory()

    reply = say(conversation, "how long does shipping")[-1]  # 4 of 5 words: confidence 0.8

    record = reply.decision
    assert record is not None
    assert record.actor_name == "inbox-bot"
    assert record.actor_kind == "bot"
    assert record.output == {
        "action": "answer",
        "reason": "a knowledge-base entry matched with enough confidence",
        "entry_id": shipping_entry.pk,
        "confidence": 0.8,
        "threshold": 0.6,
    }
    assert record.confidence == 0.8
    assert record.factors[:2] == [
        {"text": "matched “How long does shipping take?”", "weight": 1.0},
        {"text": "confidence 0.80 against threshold 0.60", "weight": 0.2},
    ]
    assert record.outcome == f"Sent to the customer (message #{reply.pk})"


def test_it_hands_off_when_not_confident_and_records_confidence_and_threshold(fake_engine, shipping_entry):
    conversation = ConversationFactory()

    messages = say(conversation, "can I pay with bitcoin")

    notice = messages[-1]
    assert conversation.status == Status.OPEN
    assert notice.author_kind == Author.BOT
    assert notice.body == (
        "I'm not sure enough to answer this correctly myself. I'm passing your conversation to a person "
        "on our team; you can expect a reply today by 14:00."
    )
    assert notice.decision.output == {
        "action": "handoff",
        "reason": "no knowledge-base entry matched with enough confidence",
        "entry_id": None,
        "confidence": 0.0,
        "threshold": 0.6,
    }
    assert notice.decision.output_summary == (
        "Handed to a person: no knowledge-base entry matched with enough confidence"
    )
    assert conversation.first_response_due_at == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def test_the_bot_never_replies_after_a_human_replied(fake_engine, shipping_entry, agent):
    conversation = ConversationFactory()
    services.reply_as_agent(conversation=conversation, user=agent, body="Hi, Ana here.")
    conversation.refresh_from_db()
    decisions_before = DecisionRecord.objects.count()

    messages = say(conversation, "how long does shipping take")

    assert [m.author_kind for m in messages] == [Author.AGENT, Author.CUSTOMER]
    assert conversation.status == Status.OPEN
    assert DecisionRecord.objects.count() == decisions_before


def test_the_bot_answers_again_once_a_human_hands_it_back(fake_engine, shipping_entry, agent):
    conversation = ConversationFactory()
    services.reply_as_agent(conversation=conversation, user=agent, body="Hi, Ana here.")
    services.hand_back_to_bot(conversation=conversation, user=agent)

    reply = say(conversation, "how long does shipping take")[-1]

    assert reply.author_kind == Author.BOT
    assert reply.faq_entry_id == shipping_entry.pk
    assert conversation.status == Status.BOT
    assert conversation.human_has_replied is False


def test_the_bot_stays_silent_after_it_handed_off(fake_engine, shipping_entry):
    conversation = ConversationFactory()
    say(conversation, "I want a person")

    messages = say(conversation, "how long does shipping take")

    assert [m.author_kind for m in messages] == [Author.CUSTOMER, Author.BOT, Author.CUSTOMER]


def test_it_sends_at_most_n_answers_without_the_customer_confirming_one_helped(
    fake_engine, shipping_entry, returns_entry
):
    conversation = ConversationFactory()
    say(conversation, "how long does shipping take")
    say(conversation, "how do I return an item")

    messages = say(conversation, "how long does shipping take")

    assert len(bot_messages(conversation)) == 3
    assert messages[-1].faq_entry_id is None
    assert messages[-1].decision.output["reason"] == (
        "2 answers without the customer confirming one helped (the limit is 2)"
    )
    assert conversation.status == Status.OPEN


def test_confirming_an_answer_helped_lets_the_bot_answer_again(fake_engine, shipping_entry, returns_entry):
    conversation = ConversationFactory()
    first = say(conversation, "how long does shipping take")[-1]
    say(conversation, "how do I return an item")
    services.record_feedback(conversation=conversation, message_id=first.pk, choice="helped")
    conversation.refresh_from_db()

    reply = say(conversation, "how long does shipping take")[-1]

    assert reply.faq_entry_id == shipping_entry.pk
    assert conversation.bot_answers_unconfirmed == 1
    shipping_entry.refresh_from_db()
    assert shipping_entry.helpful_count == 1


@pytest.mark.parametrize(
    "text",
    ["human", "Can I talk to an agent?", "I want a real person", "speak to someone please", "REPRESENTATIVE"],
)
def test_asking_for_a_person_hands_off_at_once(fake_engine, shipping_entry, text):
    conversation = ConversationFactory()

    messages = say(conversation, text)

    assert conversation.status == Status.OPEN
    assert messages[-1].body == (
        "Of course. I'm passing your conversation to a person on our team; "
        "you can expect a reply today by 14:00."
    )
    assert messages[-1].decision.output["reason"] == "the customer asked for a person"


def test_asking_for_a_person_hands_off_even_with_a_matching_question(fake_engine, shipping_entry):
    conversation = ConversationFactory()

    messages = say(conversation, "how long does shipping take? let me talk to a human")

    assert messages[-1].faq_entry_id is None
    assert conversation.status == Status.OPEN


def test_didnt_help_hands_off_and_flags_the_entry(fake_engine, shipping_entry):
    conversation = ConversationFactory()
    say(conversation, "how long does shipping take")

    messages = say(conversation, "that didn't help")

    shipping_entry.refresh_from_db()
    assert shipping_entry.unhelpful_count == 1
    assert conversation.status == Status.OPEN
    assert messages[-1].body.startswith("Sorry that didn't help. I'm passing your conversation to a person")
    assert messages[-1].decision.output["reason"] == "the customer said the answer did not help"


def test_the_didnt_help_button_hands_off_and_flags_the_entry(fake_engine, shipping_entry):
    conversation = ConversationFactory()
    answer = say(conversation, "how long does shipping take")[-1]

    services.record_feedback(conversation=conversation, message_id=answer.pk, choice="not_helped")

    conversation.refresh_from_db()
    shipping_entry.refresh_from_db()
    answer.refresh_from_db()
    assert shipping_entry.unhelpful_count == 1
    assert conversation.status == Status.OPEN
    assert answer.actions == []


def test_without_the_text_engine_it_hands_off_and_says_why(no_engine, shipping_entry):
    conversation = ConversationFactory()

    messages = say(conversation, "how long does shipping take")

    assert conversation.status == Status.OPEN
    assert messages[-1].decision.output == {
        "action": "handoff",
        "reason": "text engine unavailable",
        "entry_id": None,
        "confidence": 0.0,
        "threshold": 1.0,
    }


def test_it_hands_off_when_the_policy_does_not_allow_auto_answers(fake_engine, shipping_entry):
    ActionPolicy.objects.create(action_type="inbox.auto_answer", mode="ask")
    conversation = ConversationFactory()

    messages = say(conversation, "how long does shipping")

    assert conversation.status == Status.OPEN
    assert messages[-1].decision.output["reason"] == "auto-answers need a person by policy (ask)"
    assert messages[-1].decision.output["confidence"] == 0.8


def test_a_hand_off_outside_business_hours_says_when_we_open(fake_engine, shipping_entry, monkeypatch):
    friday_evening = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: friday_evening)
    conversation = ConversationFactory()

    messages = say(conversation, "person please")

    assert messages[-1].body == (
        "Of course. I'm passing your conversation to a person on our team. We're closed right now "
        "(our hours: Mon–Fri 09:00–17:00), so you can expect a reply on Monday 30 November by 13:00."
    )
    assert conversation.first_response_due_at == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)


def test_an_edited_answer_is_what_the_next_customer_gets_even_within_the_same_clock_tick(
    fake_engine, shipping_entry
):
    # The clock is frozen in this module: the knowledge base's fingerprint must not rely on it.
    first = say(ConversationFactory(), "how long does shipping take")[-1]
    update_faq_entry(entry=shipping_entry, answer="We ship the same day.")

    second = say(ConversationFactory(), "how long does shipping take")[-1]

    assert first.body.startswith("We ship within 2 working days")
    assert second.body.startswith("We ship the same day.")


ANGRY = "HOW LONG DOES SHIPPING TAKE??? STILL WAITING, THIS IS RIDICULOUS!!!"


def test_a_very_frustrated_customer_gets_an_apology_and_a_person_even_when_the_faq_matches(
    fake_engine, shipping_entry
):
    conversation = ConversationFactory()

    asked, notice = say(conversation, ANGRY)

    assert conversation.status == Status.OPEN
    assert notice.body == (
        "I'm sorry about the trouble. I'm passing your conversation to a person on our team; "
        "you can expect a reply today by 14:00."
    )
    reason = f"the customer sounds very frustrated (frustration {asked.frustration:.2f}, hand-off from 0.75)"
    assert notice.decision.output["reason"] == reason
    factors = [f["text"] for f in notice.decision.factors]
    assert factors[0] == reason
    # The triage's own reasons, in plain words, whatever the sentiment model adds beside them.
    assert {"writes in capitals", "calls it ridiculous", "says 'still'", "mentions waiting"} <= set(factors)
    assert [f["weight"] for f in notice.decision.factors] == [1.0] + [None] * (len(factors) - 1)


def test_a_mildly_annoyed_question_is_still_answered(fake_engine, shipping_entry):
    conversation = ConversationFactory()

    asked, reply = say(conversation, "how long does shipping take? still wondering, sorry")

    assert asked.frustration < 0.75
    assert reply.faq_entry_id == shipping_entry.pk
    assert conversation.status == Status.BOT


def test_a_third_contact_this_week_that_says_still_goes_to_a_person(fake_engine, shipping_entry):
    for _ in range(2):
        ConversationFactory(customer_email="anna@example.com")
    conversation = ConversationFactory(customer_email="anna@example.com")

    asked, notice = say(conversation, "how long does shipping take, I still don't know")

    assert asked.frustration >= 0.75
    assert notice.body.startswith("I'm sorry about the trouble.")
    assert "contacted us 2 times before about this" in [f["text"] for f in notice.decision.factors]


def test_the_owner_can_turn_the_frustration_hand_off_off(fake_engine, shipping_entry, settings):
    settings.HEEDFUL_BOT_HANDOFF_FRUSTRATION = 0
    conversation = ConversationFactory()

    _, reply = say(conversation, ANGRY)

    assert reply.faq_entry_id == shipping_entry.pk
    assert conversation.status == Status.BOT


def test_a_hand_off_by_a_rule_does_not_claim_the_bot_was_unsure(fake_engine, shipping_entry):
    # The demo's waiting conversations and unreadable emails are handed off without the bot
    # deciding anything: "I'm not sure enough" explained a decision nobody made.
    conversation = ConversationFactory()
    services.receive_customer_message(conversation=conversation, body="Do you sell gift cards?", bot=False)

    services.hand_off(conversation, reason="demo: waiting for a person")

    assert bot_messages(conversation)[-1].body == (
        "Thanks for your message. I'm passing your conversation to a person on our team; "
        "you can expect a reply today by 14:00."
    )
