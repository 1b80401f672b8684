"""Writes for the inbox: conversations, messages, the bot's replies and hand-offs, agent actions.

Every service is atomic and audited; email leaves only through ``send_email_task``, queued on
commit. The bot's part follows heedful/inbox/autoanswer.py and writes a decision record for
every reply and every hand-off (promise 2).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from heedful.governance.models import ActorKind, DecisionRecord
from heedful.governance.services import Subject, record_audit, record_decision, set_decision_outcome
from heedful.inbox import autoanswer, conf, contacts, hours, webhooks
from heedful.inbox.models import (
    Author,
    Channel,
    Conversation,
    CsatRequest,
    Delivery,
    Direction,
    Message,
    Order,
    OrderUpdate,
    Status,
)
from heedful.inbox.triage import MessageTriage, priority_for, triage_message
from heedful.knowledge import matching
from heedful.knowledge import services as knowledge
from heedful.storable import storable
from heedful.workflows.events import emit_event, has_enabled_listener

if TYPE_CHECKING:
    from heedful.accounts.models import User

log = logging.getLogger(__name__)

BOT = "inbox-bot"
# Channels whose customers are answered by email (chat and the API fetch their replies).
EMAILED_CHANNELS = {Channel.EMAIL, Channel.FORM}
BOT_VERSION = "1"
FEEDBACK_ACTIONS = [
    {"id": "helped", "label": "That helped"},
    {"id": "not_helped", "label": "That didn't help"},
    {"id": "person", "label": "Talk to a person"},
]
EMAIL_FEEDBACK_FOOTER = (
    '\n\nIf this didn\'t help, reply "didn\'t help", or "person" to reach someone on our team.'
)


def subject_of(conversation: Conversation) -> Subject:
    if conversation.contact_id is not None:
        return Subject(
            "contact", str(conversation.contact_id), conversation.customer_email or str(conversation)
        )
    return Subject("conversation", str(conversation.pk), str(conversation))  # Subject cuts the label


def _emit(name: str, conversation: Conversation, **extra: Any) -> dict[str, Any]:
    """A workflow event about this conversation (names and keys: heedful/workflows/catalogue.py).

    Called inside the service's transaction, so the event exists exactly when the change does.
    A visitor without a contact gets ``"contact": None`` and the conversation as the subject.
    """
    payload = {
        "contact": contacts.event_contact_of(conversation),
        "conversation_id": conversation.pk,
        **extra,
    }
    emit_event(name, payload, subject_of(conversation), source="inbox")
    return payload


def _email_of(user: User | None) -> str:
    return user.email if user is not None else ""


@transaction.atomic
def start_conversation(
    *,
    channel: str,
    customer_email: str = "",
    customer_name: str = "",
    subject: str = "",
    by_customer: bool = True,
) -> Conversation:
    """A new conversation. ``by_customer=False`` when we start it (an order update): then it is
    no ``conversation.created`` event, which means "a customer started a conversation"."""
    customer_email = storable(customer_email).strip().lower()
    customer_name = storable(customer_name).strip()
    conversation = Conversation.objects.create(
        channel=channel,
        customer_email=customer_email,
        customer_name=customer_name[:200],
        subject=storable(subject).strip()[:300],
        contact_id=contacts.contact_for_email(customer_email, customer_name),
    )
    record_audit(action="inbox.conversation.start", automation="inbox", obj=conversation)
    webhooks.emit("conversation.created", conversation)
    if by_customer:
        _emit(
            "conversation.created",
            conversation,
            channel=conversation.channel,
            assignee_email=_email_of(conversation.assignee),
        )
    return conversation


def ready_the_bot(*, customer_waiting: bool = True) -> bool:
    """Load, or train, the FAQ matcher for the knowledge base as it is now, before a customer
    message's transaction begins; with a customer waiting on the answer (chat, web form, API),
    for at most ``HEEDFUL_BOT_READY_WAIT_SECONDS``. False while it is still relearning.

    After an edit the bot's next match waits for the retrain: seconds for a usual knowledge
    base, 46 s measured after one edit to one of 2,300 entries. Waiting inside the transaction
    held the database's write lock all that time, and in the embedded mode (SQLite) another
    person's unrelated save failed after 20 s with "database is locked". Waiting here holds
    nothing. A customer in the chat should not wait that long either, and gunicorn kills a web
    worker whose request runs past 30 s, before the message is stored: when the wait runs out,
    the retrain goes on in the background and the message goes to a person, the decision saying
    why. A worker reading a mailbox has nobody waiting on it and waits as long as it takes.
    Failures are left to the match itself, which hands the customer to a person.
    """
    try:
        return matching.ready(conf.bot_ready_wait() if customer_waiting else None)
    except Exception:
        log.warning("Could not ready the FAQ matcher", exc_info=True)
        return True  # not relearning: broken, and the match says so


def knowledge_suggestions(text: str) -> tuple[list[tuple[Any, float]], bool]:
    """The entries that may answer ``text`` for the agent, best first, and whether the bot is
    still relearning after an edit (then there are none yet, and the agent is told so rather
    than that nothing comes close)."""
    if not text:
        return [], False
    relearning = not ready_the_bot()
    return ([] if relearning else matching.suggest_entries(text)), relearning


def submit_contact_form(*, email: str, name: str, subject: str, text: str) -> Message:
    """The public web form: a new conversation answered by email."""
    ready_the_bot()
    with transaction.atomic():
        conversation = start_conversation(
            channel=Channel.FORM, customer_email=email, customer_name=name, subject=subject
        )
        return receive_customer_message(conversation=conversation, body=text)


# --- customer messages and the bot ----------------------------------------------------------


@transaction.atomic
def receive_customer_message(
    *, conversation: Conversation, body: str, email: dict[str, Any] | None = None, bot: bool = True
) -> Message:
    """Store a customer's message, triage it, and let the bot decide (answer, ask, hand off, or
    stay silent). ``email`` carries the threading headers of an inbound email."""
    now = timezone.now()
    # Kept, not refused: a NUL or a lone surrogate (bad encodings) failed the message on PostgreSQL.
    body = storable(body[: conf.max_body_chars()])
    if email:
        email = {k: storable(v) if isinstance(v, str) else v for k, v in email.items()}
    we_wrote = conversation.messages.filter(direction=Direction.OUT).exists()
    # "Wrote again": anything was said in this conversation before, by them or by us. Every
    # customer message comes through here and sets last_customer_message_at, so the field
    # answers for their side without reading their messages (this is the chat's hot path).
    said_before = we_wrote or conversation.last_customer_message_at is not None
    intent = autoanswer.intent_of(body)
    this_week = _contacts_this_week(conversation, now)
    waited = (now - conversation.waiting_since).total_seconds() / 60 if conversation.waiting_since else 0.0
    triage = triage_message(body, intent=intent, contacts_this_week=this_week, minutes_waited=waited)
    message = Message.objects.create(
        conversation=conversation,
        direction=Direction.IN,
        author_kind=Author.CUSTOMER,
        body=body,
        intent=triage.intent,
        sentiment=triage.sentiment,
        sentiment_score=triage.sentiment_score,
        frustration=triage.frustration,
        urgency=triage.urgency,
        created_at=now,
        **(email or {}),
    )
    if conversation.status == Status.RESOLVED and _answers_csat(conversation, body):
        # "5" in reply to the CSAT question is the rating, not a new question: stored, on the
        # timeline, and the conversation stays resolved.
        conversation.last_customer_message_at = now
        conversation.save(update_fields=["last_customer_message_at", "updated_at"])
        contacts.add_to_timeline(conversation, message)
        return message
    if conversation.status == Status.WAITING:
        conversation.status = Status.OPEN
    elif conversation.status == Status.RESOLVED:
        conversation.status = Status.OPEN if conversation.human_has_replied else Status.BOT
        conversation.resolved_at = None
    conversation.last_customer_message_at = now
    conversation.waiting_since = conversation.waiting_since or now
    contacts.add_to_timeline(conversation, message)
    webhooks.emit("message.received", conversation, message={"id": message.pk, "text": body[:2000]})
    if said_before:
        _emit("conversation.customer_replied", conversation, assignee_email=_email_of(conversation.assignee))
    if we_wrote and contacts.is_open_lead(conversation.contact_id):
        _emit("lead.replied", conversation)
    if bot:
        _let_bot_respond(conversation, message, triage)
    _reprioritise(conversation, triage, this_week, now)
    conversation.save()
    return message


def _answers_csat(conversation: Conversation, body: str) -> bool:
    from heedful.inbox import csat

    rating = csat.rating_in_reply(body)
    if rating is None:
        return False
    question = CsatRequest.objects.filter(conversation=conversation).first()
    if question is None:
        return False
    csat.record_csat_answer(request=question, rating=rating)
    return True


def _contacts_this_week(conversation: Conversation, now: Any) -> int:
    if not conversation.customer_email:
        return 1
    return Conversation.objects.filter(
        customer_email=conversation.customer_email, created_at__gte=now - timedelta(days=7)
    ).count()


def _reprioritise(conversation: Conversation, triage: MessageTriage | None, this_week: int, now: Any) -> None:
    value = Decimal(0)
    if conversation.customer_email:
        value = Order.objects.filter(customer_email__iexact=conversation.customer_email).aggregate(
            total=Sum("total")
        )["total"] or Decimal(0)
    priority = priority_for(
        triage,
        contacts_this_week=this_week,
        waiting_since=conversation.waiting_since if conversation.status != Status.RESOLVED else None,
        now=now,
        customer_value=value,
    )
    conversation.priority = priority.score
    conversation.priority_reason = priority.reason[:300]


def _last_bot_entry_id(conversation: Conversation) -> int | None:
    return (
        conversation.messages.filter(author_kind=Author.BOT, faq_entry_id__isnull=False)
        .order_by("-created_at", "-id")
        .values_list("faq_entry_id", flat=True)
        .first()
    )


def _earlier_customer_texts(conversation: Conversation, message: Message) -> list[str]:
    """The customer's two messages before ``message``, oldest first (an order number given earlier)."""
    return list(
        conversation.messages.filter(author_kind=Author.CUSTOMER)
        .exclude(pk=message.pk)
        .order_by("-created_at", "-id")[:2]
        .values_list("body", flat=True)
    )[::-1]


def _let_bot_respond(
    conversation: Conversation, message: Message, triage: MessageTriage | None = None
) -> None:
    # The bot reads the history only when the decision needs it: earlier messages for an order
    # question, the last answer for a "didn't help". Most messages need neither.
    decision = autoanswer.decide(
        conversation,
        message.body,
        earlier_customer_texts=lambda: _earlier_customer_texts(conversation, message),
        last_bot_entry_id=lambda: _last_bot_entry_id(conversation),
        frustration=triage.frustration if triage else None,
        frustration_reasons=triage.frustration_reasons if triage else (),
    )
    if decision.kind == "silent":
        return
    if decision.kind == "handoff":
        if decision.flag_entry_id is not None:
            knowledge.flag_entry_unhelpful(entry_id=decision.flag_entry_id, reason=message.body[:200])
        if decision.failed_order_check:
            conversation.failed_order_checks += 1
        hand_off(conversation, reason=decision.reason, decision_data=decision, trigger=message)
        return
    record = _record_bot_decision(conversation, message, decision, action=decision.kind)
    is_chat = conversation.channel not in EMAILED_CHANNELS
    text = decision.text
    if decision.kind == "answer" and not is_chat:
        text += EMAIL_FEEDBACK_FOOTER
    reply = post_outgoing(
        conversation,
        author_kind=Author.BOT,
        body=text,
        actions=FEEDBACK_ACTIONS if decision.kind == "answer" and is_chat else [],
        faq_entry_id=decision.entry.pk if decision.entry else None,
        decision=record,
    )
    if decision.kind == "answer" and decision.counts_as_answer:
        conversation.bot_answers_unconfirmed += 1
    if decision.failed_order_check:
        conversation.failed_order_checks += 1
    if decision.order_number:
        conversation.verified_order_number = decision.order_number
    set_decision_outcome(record, f"Sent to the customer (message #{reply.pk})")


def _record_bot_decision(
    conversation: Conversation, message: Message | None, decision: autoanswer.BotDecision, *, action: str
) -> DecisionRecord:
    match = decision.match
    output: dict[str, Any] = {
        "action": action,
        "reason": decision.reason,
        "entry_id": decision.entry.pk if decision.entry else (match.entry_id if match else None),
        "confidence": match.confidence if match else None,
        "threshold": match.threshold if match else None,
    }
    if decision.order_number:
        output["order_number"] = decision.order_number
    summary = {
        "answer": f"Answered: {decision.reason}",
        "ask": f"Asked for details: {decision.reason}",
        "handoff": f"Handed to a person: {decision.reason}",
    }[action]
    return record_decision(
        actor_kind=ActorKind.BOT,
        actor_name=BOT,
        actor_version=(match.engine_version if match and match.engine_version else BOT_VERSION),
        subject=subject_of(conversation),
        inputs={
            "conversation_id": conversation.pk,
            "message_id": message.pk if message else None,
            "intent": decision.intent,
            "answers_unconfirmed": conversation.bot_answers_unconfirmed,
        },
        output=output,
        output_summary=summary,
        confidence=match.confidence if match else None,
        factors=decision.factors,
    )


def _handoff_text(decision: autoanswer.BotDecision | None, due: Any, now: Any) -> str:
    opening = {
        "human": "Of course.",
        "not_helped": "Sorry that didn't help.",
    }.get(decision.intent if decision else "", "I'm not sure enough to answer this correctly myself.")
    if decision is None:
        # Handed off by a rule, not by the bot's doubt (an email that could not be read whole):
        # "not sure enough" would explain a decision nobody made.
        opening = "Thanks for your message."
    elif decision.apologise:
        opening = "I'm sorry about the trouble."
    spec, tz = conf.business_hours(), conf.business_time_zone()
    when = hours.when_in_words(due, now, tz)
    opening_hours = hours.OpeningHours.parse(spec)
    if opening_hours.is_open(now.astimezone(hours.ZoneInfo(tz))):
        return (
            f"{opening} I'm passing your conversation to a person on our team; you can expect a reply {when}."
        )
    return (
        f"{opening} I'm passing your conversation to a person on our team. We're closed right now "
        f"(our hours: {opening_hours.describe()}), so you can expect a reply {when}."
    )


def hand_off(
    conversation: Conversation,
    *,
    reason: str,
    decision_data: autoanswer.BotDecision | None = None,
    trigger: Message | None = None,
) -> DecisionRecord:
    """Give the conversation to people and tell the customer honestly when to expect a reply."""
    now = timezone.now()
    spec, tz = conf.business_hours(), conf.business_time_zone()
    by_rule = decision_data is None
    decision_data = decision_data or autoanswer.BotDecision(
        kind="handoff", reason=reason, factors=[{"text": reason, "weight": 1.0}]
    )
    record = _record_bot_decision(conversation, trigger, decision_data, action="handoff")
    conversation.status = Status.OPEN
    conversation.handed_off_at = now
    if conversation.first_response_due_at is None or conversation.first_responded_at is not None:
        conversation.first_response_due_at = hours.due_at(spec, tz, now, conf.sla_first_response_minutes())
        conversation.first_responded_at = None
    if conversation.resolution_due_at is None:
        conversation.resolution_due_at = hours.due_at(spec, tz, now, conf.sla_resolution_minutes())
    conversation.waiting_since = conversation.waiting_since or now
    if conversation.assignee_id is None and conf.round_robin():
        conversation.assignee = next_agent()
    notice = post_outgoing(
        conversation,
        author_kind=Author.BOT,
        body=_handoff_text(None if by_rule else decision_data, conversation.first_response_due_at, now),
        decision=record,
    )
    set_decision_outcome(record, f"Handed to people; customer told (message #{notice.pk})")
    record_audit(action="inbox.conversation.hand_off", automation=BOT, obj=conversation, summary=reason)
    webhooks.emit("conversation.handed_off", conversation, reason=reason)
    return record


def next_agent() -> User | None:
    """Round robin: the active agent whose last hand-off is the oldest (never assigned: first)."""
    from django.db.models import F, Max

    from heedful.accounts.models import User

    return (
        User.objects.filter(is_active=True, role="agent")
        .annotate(last=Max("assigned_conversations__handed_off_at"))
        .order_by(F("last").asc(nulls_first=True), "pk")
        .first()
    )


@transaction.atomic
def record_feedback(*, conversation: Conversation, message_id: int, choice: str) -> None:
    """A chat button under a bot answer: "helped", "not_helped" or "person"."""
    answer = conversation.messages.filter(pk=message_id, author_kind=Author.BOT).first()
    if answer is None or choice not in {a["id"] for a in FEEDBACK_ACTIONS}:
        return
    Message.objects.filter(pk=answer.pk).update(actions=[])
    if choice == "helped":
        if answer.faq_entry_id is not None:
            knowledge.confirm_entry_helpful(entry_id=answer.faq_entry_id)
        conversation.bot_answers_unconfirmed = 0
        conversation.save(update_fields=["bot_answers_unconfirmed", "updated_at"])
        set_decision_outcome(answer.decision, "The customer said it helped")
        return
    text = "That didn't help." if choice == "not_helped" else "I'd like to talk to a person."
    receive_customer_message(conversation=conversation, body=text)


# --- outgoing messages and agents ------------------------------------------------------------


def post_outgoing(
    conversation: Conversation,
    *,
    author_kind: str,
    body: str,
    user: User | None = None,
    actions: list[dict[str, str]] | None = None,
    faq_entry_id: int | None = None,
    decision: DecisionRecord | None = None,
) -> Message:
    extra: dict[str, Any] = {}
    if conversation.channel in EMAILED_CHANNELS and conversation.customer_email:
        extra = _email_threading(conversation)
        extra.update(delivery=Delivery.PENDING, next_attempt_at=timezone.now())
    message = Message.objects.create(
        conversation=conversation,
        direction=Direction.OUT,
        author_kind=author_kind,
        author_user=user,
        body=body,
        actions=actions or [],
        faq_entry_id=faq_entry_id,
        decision=decision,
        **extra,
    )
    contacts.add_to_timeline(conversation, message)
    if extra:
        from heedful.inbox.tasks import send_email_task

        transaction.on_commit(lambda: send_email_task.delay(message.pk))
    return message


def _email_threading(conversation: Conversation) -> dict[str, Any]:
    domain = conf.support_address().rsplit("@", 1)[-1].strip("> ") or "localhost"
    last = (
        conversation.messages.exclude(email_message_id="")
        .order_by("-created_at", "-id")
        .values("email_message_id", "references")
        .first()
    )
    threading: dict[str, Any] = {"email_message_id": make_msgid(domain=domain)}
    if last:
        threading["in_reply_to"] = last["email_message_id"]
        threading["references"] = f"{last['references']} {last['email_message_id']}".strip()[-4000:]
    return threading


@transaction.atomic
def reply_as_agent(
    *, conversation: Conversation, user: User, body: str, faq_entry_id: int | None = None
) -> Message:
    """A person answers: the bot falls silent in this conversation until handed back."""
    now = timezone.now()
    body = body.replace("\r\n", "\n")  # browsers send form text with CRLF line ends
    message = post_outgoing(conversation, author_kind=Author.AGENT, body=body.strip(), user=user)
    if faq_entry_id is not None:
        knowledge.count_answered_by_hand(entry_id=faq_entry_id)
    conversation.human_has_replied = True
    conversation.status = Status.WAITING
    conversation.first_responded_at = conversation.first_responded_at or now
    conversation.waiting_since = None
    conversation.priority = 0.0
    conversation.priority_reason = ""
    if conversation.assignee_id is None:
        conversation.assignee = user
    conversation.save()
    record_audit(action="inbox.reply", user=user, obj=conversation, summary=body.strip()[:200])
    _emit("conversation.agent_replied", conversation, agent_email=user.email)
    return message


@transaction.atomic
def add_internal_note(*, conversation: Conversation, user: User, body: str) -> Message:
    """A note for colleagues; never shown or sent to the customer."""
    message = Message.objects.create(
        conversation=conversation,
        direction=Direction.INTERNAL,
        author_kind=Author.AGENT,
        author_user=user,
        body=body.strip(),
    )
    record_audit(action="inbox.note", user=user, obj=conversation, summary=body.strip()[:200])
    return message


@transaction.atomic
def mark_bot_answer_wrong(*, message: Message, user: User) -> str:
    """A person says the bot's answer did not fit the customer's question, because the
    knowledge base does not cover it: the question goes on the knowledge base's list of
    questions to hand off (the bot retrains on it) and the decision record says who reversed it.
    Returns the question. Raises ValidationError for a message that is not a bot's answer, or a
    question worded like an entry."""
    if message.author_kind != Author.BOT or message.faq_entry_id is None:
        raise ValidationError(_("Only an answer the bot gave from the knowledge base can be marked wrong."))
    asked_id = (message.decision.inputs or {}).get("message_id") if message.decision else None
    asked = (
        message.conversation.messages.filter(pk=asked_id, author_kind=Author.CUSTOMER).first()
        if asked_id
        else None
    ) or (
        message.conversation.messages.filter(author_kind=Author.CUSTOMER, pk__lt=message.pk)
        .order_by("-pk")
        .first()
    )
    if asked is None:
        raise ValidationError(_("No question of the customer's was found before this answer."))
    question = knowledge.mark_not_covered(
        text=asked.body, user=user, wrongly_answered_with=message.faq_entry_id
    )
    if message.decision is not None and "marked wrong by" not in message.decision.outcome.lower():
        set_decision_outcome(
            message.decision,
            f"{message.decision.outcome}; marked wrong by {user.display_name} "
            f"({timezone.localdate():%Y-%m-%d}): the question is not covered"
            if message.decision.outcome
            else f"Marked wrong by {user.display_name}: the question is not covered",
        )
    return question.text


@transaction.atomic
def hand_back_to_bot(*, conversation: Conversation, user: User) -> Conversation:
    """A person lets the bot answer again; its count of unconfirmed answers starts afresh."""
    before = conversation.status
    conversation.status = Status.BOT
    conversation.human_has_replied = False
    conversation.bot_answers_unconfirmed = 0
    conversation.failed_order_checks = 0
    conversation.save(
        update_fields=[
            "status",
            "human_has_replied",
            "bot_answers_unconfirmed",
            "failed_order_checks",
            "updated_at",
        ]
    )
    record_audit(
        action="inbox.hand_back",
        user=user,
        obj=conversation,
        summary="Handed back to the bot",
        changes={"status": [before, Status.BOT]},
    )
    return conversation


@transaction.atomic
def take_over(*, conversation: Conversation, user: User) -> Conversation:
    """A person takes the conversation from the bot before replying."""
    before = conversation.status
    conversation.status = Status.OPEN
    conversation.assignee = conversation.assignee or user
    conversation.save(update_fields=["status", "assignee", "updated_at"])
    record_audit(
        action="inbox.take_over", user=user, obj=conversation, changes={"status": [before, Status.OPEN]}
    )
    return conversation


@transaction.atomic
def assign_conversation(*, conversation: Conversation, assignee: User | None, user: User) -> Conversation:
    before = conversation.assignee.email if conversation.assignee else ""
    conversation.assignee = assignee
    conversation.save(update_fields=["assignee", "updated_at"])
    record_audit(
        action="inbox.assign",
        user=user,
        obj=conversation,
        changes={"assignee": [before, assignee.email if assignee else ""]},
    )
    return conversation


@transaction.atomic
def resolve_conversation(*, conversation: Conversation, user: User) -> Conversation:
    return mark_resolved(conversation, user=user)


def mark_resolved(
    conversation: Conversation, *, user: User | None = None, automation: str = ""
) -> Conversation:
    """Resolve, by a person (``user``) or a rule (``automation``), in the caller's transaction.

    The audit entry names who, and the ``conversation.resolved`` event says whether it was
    automatic. CSAT is asked only after a person's resolution: a rule resolves conversations
    that went quiet days ago, and a "how did we do?" about those would come out of the blue.
    """
    before = conversation.status
    conversation.status = Status.RESOLVED
    conversation.resolved_at = timezone.now()
    conversation.waiting_since = None
    conversation.priority = 0.0
    conversation.priority_reason = ""
    conversation.save()
    record_audit(
        action="inbox.resolve",
        user=user,
        automation=automation,
        obj=conversation,
        changes={"status": [before, Status.RESOLVED]},
    )
    webhooks.emit("conversation.resolved", conversation)
    payload = _emit(
        "conversation.resolved",
        conversation,
        assignee_email=_email_of(conversation.assignee),
        automatically=user is None,
    )
    # An enabled workflow that asks for CSAT on this event (the gallery's "CSAT after
    # resolution") asks in its own time; asking here as well would make its question a
    # no-op (one question per conversation), so the built-in one stands down.
    if (
        user is not None
        and conf.csat_after_resolve()
        and not has_enabled_listener(
            "conversation.resolved", payload, subject_of(conversation), action="ask_csat"
        )
    ):
        from heedful.inbox.tasks import send_csat_task

        transaction.on_commit(lambda: send_csat_task.delay(conversation.pk))
    return conversation


BULK_ACTIONS = ("resolve", "assign", "tag")
MAX_BULK = 200


@dataclass(frozen=True)
class BulkDone:
    changed: int
    unchanged: int  # already resolved, already assigned so, already tagged, or gone


def act_on_conversations(
    conversation_ids: Sequence[int],
    *,
    action: str,
    user: User,
    assignee: User | None = None,
    tag: str = "",
) -> BulkDone:
    """Resolve, assign or tag the conversations an agent ticked in the list.

    Each one goes through the same service as on its own page, in its own transaction, so it
    is audited (and, resolved, announced and asked about) exactly as if done one by one.
    """
    if action not in BULK_ACTIONS:
        raise ValueError(f"Unknown bulk action {action!r}")
    ids = list(dict.fromkeys(conversation_ids))[:MAX_BULK]
    tag = tag.strip().lower()[:40]
    if action == "tag" and not tag:
        raise ValueError("Write the tag to add.")
    changed = 0
    for conversation in Conversation.objects.filter(pk__in=ids).select_related("assignee").order_by("pk"):
        with transaction.atomic():
            if action == "resolve" and conversation.status != Status.RESOLVED:
                mark_resolved(conversation, user=user)
            elif action == "assign" and conversation.assignee_id != (assignee.pk if assignee else None):
                assign_conversation(conversation=conversation, assignee=assignee, user=user)
            elif action == "tag" and tag not in conversation.tags:
                tag_conversation(conversation=conversation, tag=tag, user=user)
            else:
                continue
        changed += 1
    return BulkDone(changed=changed, unchanged=len(ids) - changed)


@transaction.atomic
def tag_conversation(*, conversation: Conversation, tag: str, user: User) -> Conversation:
    tag = tag.strip().lower()[:40]
    if tag and tag not in conversation.tags:
        conversation.tags = [*conversation.tags, tag]
        conversation.save(update_fields=["tags", "updated_at"])
        record_audit(action="inbox.tag", user=user, obj=conversation, summary=tag)
    return conversation


# --- order events ----------------------------------------------------------------------------

ORDER_EVENT_TEXT = {
    "shipped": "Good news{name}: your order {number} is on its way.",
    "delayed": "Sorry{name}: your order {number} is delayed.",
    "delivered": "Hello{name}, your order {number} has been delivered. We hope you enjoy it!",
}


@transaction.atomic
def send_order_update(order: Order, event: str, *, key: str = "") -> Message | None:
    """Tell the order's owner about an order event, by email, once per event ``key``.

    The workflow action "send order update" calls this; until workflows exist, the order
    webhook and the REST upsert do. Returns None when this event was already told.
    """
    if event not in ORDER_EVENT_TEXT:
        raise ValueError(f"Unknown order event {event!r}")
    key = key or f"{order.number}:{event}:{order.status}"
    update, created = OrderUpdate.objects.get_or_create(key=key, defaults={"order": order, "event": event})
    if not created:
        return None
    conversation = start_conversation(
        channel=Channel.EMAIL,
        customer_email=order.customer_email,
        customer_name=order.customer_name,
        subject=f"Your order {order.number}",
        by_customer=False,
    )
    name = f", {order.customer_name.split()[0]}" if order.customer_name.strip() else ""
    body = ORDER_EVENT_TEXT[event].format(name=name, number=order.number)
    from heedful.inbox.orders import describe_order

    body += " " + describe_order(order)
    record = record_decision(
        actor_kind=ActorKind.WORKFLOW,
        actor_name="order-updates",
        subject=subject_of(conversation),
        inputs={"order": order.number, "event": event},
        output={"action": "email", "conversation_id": conversation.pk},
        output_summary=f"Told the customer that order {order.number} is {event}",
        factors=[{"text": f"order event: {event}", "weight": 1.0}],
    )
    message = post_outgoing(conversation, author_kind=Author.SYSTEM, body=body, decision=record)
    conversation.status = Status.RESOLVED
    conversation.resolved_at = timezone.now()
    conversation.save(update_fields=["status", "resolved_at", "updated_at"])
    update.message = message
    update.save(update_fields=["message"])
    record_audit(action="inbox.order_update", automation="order-updates", obj=order, summary=event)
    return message


def reprioritise_waiting() -> int:
    """Recompute the priority of every conversation that waits for us (waiting time grows)."""
    now = timezone.now()
    count = 0
    waiting = Conversation.objects.filter(status__in=[Status.BOT, Status.OPEN], waiting_since__isnull=False)
    for conversation in waiting.iterator():
        latest = (
            conversation.messages.filter(direction=Direction.IN)
            .order_by("-created_at", "-id")
            .values("intent", "sentiment", "sentiment_score", "frustration", "urgency")
            .first()
        )
        triage = (
            MessageTriage(
                intent=latest["intent"],
                sentiment=latest["sentiment"],
                sentiment_score=latest["sentiment_score"],
                frustration=latest["frustration"],
                urgency=latest["urgency"] or 0.0,
            )
            if latest
            else None
        )
        _reprioritise(conversation, triage, _contacts_this_week(conversation, now), now)
        Conversation.objects.filter(pk=conversation.pk).update(
            priority=conversation.priority, priority_reason=conversation.priority_reason
        )
        count += 1
    return count
