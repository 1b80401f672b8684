"""Conversations nobody has written in for days are resolved by a rule, and say so.

Without it every chat the bot answered, and every reply a customer never answered, stays in
"With the bot" or "Waiting on customer" for good, and those views stop meaning anything.
Only those two kinds are touched: a conversation that needs a person ("open") waits for a
person, however long. Each resolution is a decision record with its reason, an audit entry
and a note in the conversation; the customer's next message opens it again, and an agent
can take it over.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from heedful.governance.models import ActorKind
from heedful.governance.services import record_decision
from heedful.inbox import conf
from heedful.inbox.models import Author, Conversation, Direction, Message, Status
from heedful.inbox.services import mark_resolved, subject_of

log = logging.getLogger(__name__)

RULE = "inbox-quiet-conversations"
QUIET_KINDS = (Status.BOT, Status.WAITING)
BATCH = 500  # per sweep; the next sweep takes the rest


def _quiet(before: datetime) -> list[Conversation]:
    return list(
        Conversation.objects.filter(status__in=QUIET_KINDS)
        .annotate(last_activity=Coalesce(Max("messages__created_at"), "created_at"))
        .filter(last_activity__lt=before)
        .order_by("last_activity", "id")[:BATCH]
    )


def resolve_quiet_conversations(now: datetime | None = None) -> int:
    """Resolve bot and waiting conversations without any message for the configured days.

    Idempotent: a resolved conversation is no longer a candidate, and each one is checked
    again under its own transaction, so a message that arrives meanwhile keeps it open.
    """
    days = conf.auto_resolve_days()
    if days is None:
        return 0
    now = now or timezone.now()
    before = now - timedelta(days=days)
    resolved = 0
    for candidate in _quiet(before):
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update().get(pk=candidate.pk)
            last = conversation.messages.aggregate(last=Max("created_at"))["last"] or conversation.created_at
            if conversation.status not in QUIET_KINDS or last >= before:
                continue  # a message came, or someone acted, since the list was read
            _resolve_quiet(conversation, last_activity=last, now=now, days=days)
            resolved += 1
    if resolved:
        log.info("Resolved %d conversations without a message for %d days", resolved, days)
    return resolved


def _resolve_quiet(conversation: Conversation, *, last_activity: datetime, now: datetime, days: int) -> None:
    idle_days = (now - last_activity).days
    holder = (
        "the bot held it; nobody asked for a person"
        if conversation.status == Status.BOT
        else "it waited for the customer's answer to our reply"
    )
    record = record_decision(
        actor_kind=ActorKind.RULE,
        actor_name=RULE,
        subject=subject_of(conversation),
        inputs={
            "status": conversation.status,
            "last_message_at": last_activity.isoformat(),
            "resolve_after_days": days,
        },
        output={"action": "resolve", "conversation_id": conversation.pk},
        output_summary=f"Resolved conversation #{conversation.pk}: no message for {idle_days} days",
        factors=[
            {"text": f"no message for {idle_days} days (resolved after {days})", "weight": 1.0},
            {"text": holder, "weight": None},
        ],
        outcome="Resolved; the customer's next message opens it again",
    )
    Message.objects.create(
        conversation=conversation,
        direction=Direction.INTERNAL,
        author_kind=Author.SYSTEM,
        body=(
            f"Resolved automatically: no message for {idle_days} days ({holder}). "
            "The customer's next message opens it again."
        ),
        decision=record,
    )
    mark_resolved(conversation, automation=RULE)
