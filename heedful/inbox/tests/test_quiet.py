"""Bot and waiting conversations without a message for days are resolved by a rule, and say why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from heedful.governance.models import AuditEvent, DecisionRecord
from heedful.inbox import services
from heedful.inbox.models import Author, Channel, Conversation, Direction, Message, Status
from heedful.inbox.quiet import resolve_quiet_conversations
from heedful.inbox.tests.factories import ConversationFactory
from heedful.workflows.models import Event

pytestmark = pytest.mark.django_db


def _with_message(status: str, days_ago: float, **fields: object) -> Conversation:
    at = timezone.now() - timedelta(days=days_ago)
    conversation = ConversationFactory(status=status, created_at=at - timedelta(hours=1), **fields)
    Message.objects.create(
        conversation=conversation,
        direction=Direction.IN,
        author_kind=Author.CUSTOMER,
        body="hi",
        created_at=at,
    )
    return conversation


def _status(conversation: Conversation) -> str:
    return Conversation.objects.values_list("status", flat=True).get(pk=conversation.pk)


def test_only_bot_and_waiting_conversations_quiet_for_the_set_days_are_resolved():
    bot_quiet = _with_message(Status.BOT, 8)
    waiting_quiet = _with_message(Status.WAITING, 30)
    open_quiet = _with_message(Status.OPEN, 30)  # needs a person: waits for one, however long
    bot_recent = _with_message(Status.BOT, 6.9)
    no_messages = ConversationFactory(status=Status.BOT, created_at=timezone.now() - timedelta(days=9))

    assert resolve_quiet_conversations() == 3

    assert [_status(c) for c in (bot_quiet, waiting_quiet, open_quiet, bot_recent, no_messages)] == [
        Status.RESOLVED,
        Status.RESOLVED,
        Status.OPEN,
        Status.BOT,
        Status.RESOLVED,
    ]
    assert resolve_quiet_conversations() == 0  # idempotent


def test_each_resolution_is_explained_audited_and_noted_in_the_conversation():
    conversation = _with_message(Status.WAITING, 10, customer_email="anna@example.com")

    resolve_quiet_conversations()

    decision = DecisionRecord.objects.get(actor_name="inbox-quiet-conversations")
    assert decision.subject_id == str(conversation.contact_id or conversation.pk)
    assert decision.output_summary == f"Resolved conversation #{conversation.pk}: no message for 10 days"
    assert decision.factors == [
        {"text": "no message for 10 days (resolved after 7)", "weight": 1.0},
        {"text": "it waited for the customer's answer to our reply", "weight": None},
    ]
    note = Message.objects.get(conversation=conversation, direction=Direction.INTERNAL)
    assert note.decision == decision
    assert note.author_kind == Author.SYSTEM
    assert note.body == (
        "Resolved automatically: no message for 10 days (it waited for the customer's answer to our reply). "
        "The customer's next message opens it again."
    )
    audit = AuditEvent.objects.get(action="inbox.resolve")
    assert (audit.actor_user, audit.actor_automation, audit.changes) == (
        None,
        "inbox-quiet-conversations",
        {"status": [Status.WAITING, Status.RESOLVED]},
    )
    event = Event.objects.get(name="conversation.resolved")
    assert event.payload["automatically"] is True


def test_the_customers_next_message_opens_it_again(no_engine):
    conversation = services.start_conversation(channel=Channel.EMAIL, customer_email="anna@example.com")
    services.receive_customer_message(conversation=conversation, body="Do you sell green tea?", bot=False)
    Message.objects.filter(conversation=conversation).update(created_at=timezone.now() - timedelta(days=8))
    Conversation.objects.filter(pk=conversation.pk).update(status=Status.BOT)
    resolve_quiet_conversations()
    conversation.refresh_from_db()
    assert conversation.status == Status.RESOLVED

    services.receive_customer_message(conversation=conversation, body="Hello again?", bot=False)

    conversation.refresh_from_db()
    assert (conversation.status, conversation.resolved_at) == (Status.BOT, None)


def test_the_days_come_from_the_setting_and_zero_turns_the_rule_off(settings):
    conversation = _with_message(Status.BOT, 3)

    settings.HEEDFUL_INBOX_AUTO_RESOLVE_DAYS = 0
    assert resolve_quiet_conversations() == 0
    settings.HEEDFUL_INBOX_AUTO_RESOLVE_DAYS = 2
    assert resolve_quiet_conversations() == 1
    assert _status(conversation) == Status.RESOLVED


def test_a_message_that_arrives_after_the_list_was_read_keeps_it_open(monkeypatch):
    from heedful.inbox import quiet

    conversation = _with_message(Status.BOT, 9)
    read = quiet._quiet

    def read_then_customer_writes(before):  # type: ignore[no-untyped-def]
        rows = read(before)
        Message.objects.create(
            conversation=conversation,
            direction=Direction.IN,
            author_kind=Author.CUSTOMER,
            body="still there?",
        )
        return rows

    monkeypatch.setattr(quiet, "_quiet", read_then_customer_writes)

    assert resolve_quiet_conversations() == 0
    assert _status(conversation) == Status.BOT


def test_the_sweep_runs_hourly_from_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["resolve-quiet-conversations"]
    assert entry == {"task": "heedful.inbox.tasks.resolve_quiet_conversations_task", "schedule": 3600.0}


def test_no_satisfaction_question_follows_an_automatic_resolution(
    settings, monkeypatch, agent, django_capture_on_commit_callbacks
):
    from heedful.inbox import tasks

    settings.HEEDFUL_INBOX_CSAT_AFTER_RESOLVE = True
    asked: list[int] = []
    monkeypatch.setattr(tasks.send_csat_task, "delay", asked.append)
    quiet = _with_message(Status.WAITING, 10, customer_email="anna@example.com", channel=Channel.EMAIL)
    by_hand = _with_message(Status.WAITING, 10, customer_email="ben@example.com", channel=Channel.EMAIL)

    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_conversation(conversation=by_hand, user=agent)
        assert resolve_quiet_conversations() == 1

    assert _status(quiet) == Status.RESOLVED
    assert asked == [by_hand.pk]


def test_the_gallery_csat_workflow_skips_automatic_resolutions():
    from heedful.workflows.events import has_enabled_listener
    from heedful.workflows.gallery import install_template

    install_template("csat-after-resolution", user=None)

    def asks(payload: dict[str, object]) -> bool:
        return has_enabled_listener("conversation.resolved", payload, action="ask_csat")

    assert asks({"conversation_id": 1, "automatically": True}) is False
    assert asks({"conversation_id": 1, "automatically": False}) is True
    assert asks({"conversation_id": 1}) is True  # events recorded before the flag existed
