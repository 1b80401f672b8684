"""Sending a message by email, threaded as a reply, with retries that never lose it.

A message is claimed with a conditional update (pending → sending), so two workers never send
it twice; a failure puts it back to pending with a back-off, and after the last attempt it stays
``failed`` and visible in the conversation. A worker killed while sending leaves ``sending``;
the sweep puts such messages back after ten minutes.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from heedful.governance.services import record_audit
from heedful.inbox import conf
from heedful.inbox.models import Delivery, Message

log = logging.getLogger(__name__)
STUCK_AFTER = timedelta(minutes=10)


def _claim(message_id: int) -> bool:
    now = timezone.now()
    return (
        Message.objects.filter(pk=message_id, delivery=Delivery.PENDING, next_attempt_at__lte=now).update(
            delivery=Delivery.SENDING, next_attempt_at=now
        )
        == 1
    )


def build_email(message: Message) -> EmailMessage:
    conversation = message.conversation
    subject = conversation.subject or f"Your conversation with {conf.business_name()}"
    if message.in_reply_to and not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    headers = {"Message-ID": message.email_message_id}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    return EmailMessage(
        subject=subject,
        body=message.body,
        from_email=conf.support_address(),
        to=[conversation.customer_email],
        headers=headers,
    )


def send_message_email(message_id: int) -> str:
    """Send one pending message; returns its delivery state afterwards."""
    if not _claim(message_id):
        return Message.objects.filter(pk=message_id).values_list("delivery", flat=True).first() or ""
    message = Message.objects.select_related("conversation").get(pk=message_id)
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages([build_email(message)])
    except Exception as exc:
        return _failed(message, exc)
    Message.objects.filter(pk=message_id).update(
        delivery=Delivery.SENT, delivery_error="", next_attempt_at=None
    )
    return Delivery.SENT


@transaction.atomic
def _failed(message: Message, exc: Exception) -> str:
    attempts = message.delivery_attempts + 1
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if attempts >= conf.email_max_attempts():
        state, next_at = Delivery.FAILED, None
        record_audit(
            action="inbox.email.failed",
            automation="inbox-mail",
            obj=message.conversation,
            summary=f"Message #{message.pk} not sent after {attempts} attempts: {error}",
        )
    else:
        state, next_at = Delivery.PENDING, timezone.now() + timedelta(minutes=2**attempts)
    Message.objects.filter(pk=message.pk).update(
        delivery=state, delivery_attempts=attempts, delivery_error=error, next_attempt_at=next_at
    )
    log.warning("Email for message %s failed (attempt %s): %s", message.pk, attempts, error)
    return state


def due_message_ids() -> list[int]:
    """Pending messages whose time has come, after freeing ones stuck in ``sending``."""
    now = timezone.now()
    Message.objects.filter(delivery=Delivery.SENDING, next_attempt_at__lte=now - STUCK_AFTER).update(
        delivery=Delivery.PENDING
    )
    return list(
        Message.objects.filter(delivery=Delivery.PENDING, next_attempt_at__lte=now).values_list(
            "pk", flat=True
        )
    )


@transaction.atomic
def retry_failed_email(*, message_id: int, user: object) -> None:
    """An agent asks to try a failed message again."""
    Message.objects.filter(pk=message_id, delivery=Delivery.FAILED).update(
        delivery=Delivery.PENDING, delivery_attempts=0, next_attempt_at=timezone.now()
    )
    from heedful.inbox.tasks import send_email_task

    transaction.on_commit(lambda: send_email_task.delay(message_id))
