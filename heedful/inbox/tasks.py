"""Celery tasks for the inbox: thin, idempotent, taking IDs."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from heedful.inbox import conf, mail_in, mail_out


# Claiming (pending → sending) makes a second run of the same task a no-op.
@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=6, acks_late=True)
def send_email_task(message_id: int) -> str:
    return mail_out.send_message_email(message_id)


@shared_task
def send_due_emails_task() -> int:
    """Beat, every minute: queue pending emails whose retry time has come (and free stuck ones)."""
    ids = mail_out.due_message_ids()
    for message_id in ids:
        send_email_task.delay(message_id)
    return len(ids)


@shared_task(acks_late=True)
def poll_mailbox_task() -> int:
    """Beat, every minute: read new email from the configured IMAP mailbox."""
    account = conf.imap()
    if not account["host"]:
        return 0
    return mail_in.poll_mailbox(**account).stored


@shared_task
def reprioritise_open_conversations_task() -> int:
    """Beat, every five minutes: waiting time grows, so priorities are recomputed."""
    from heedful.inbox.services import reprioritise_waiting

    return reprioritise_waiting()


@shared_task(acks_late=True)
def resolve_quiet_conversations_task() -> int:
    """Beat, hourly: resolve bot and waiting conversations without a message for days."""
    from heedful.inbox.quiet import resolve_quiet_conversations

    return resolve_quiet_conversations()


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=6, acks_late=True)
def deliver_webhook_task(delivery_id: int) -> str:
    from heedful.inbox import webhooks

    return webhooks.deliver(delivery_id)


@shared_task
def deliver_due_webhooks_task() -> int:
    """Beat, every minute: retry webhook deliveries whose time has come."""
    from heedful.inbox import webhooks

    ids = webhooks.due_delivery_ids()
    for delivery_id in ids:
        deliver_webhook_task.delay(delivery_id)
    return len(ids)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=6, acks_late=True)
def send_csat_task(conversation_id: int) -> bool:
    """Ask how it went, after resolution; a repeat (or a reopened conversation) sends nothing."""
    from heedful.inbox.csat import send_csat_request
    from heedful.inbox.models import Conversation

    conversation = Conversation.objects.filter(pk=conversation_id).first()
    return bool(conversation and send_csat_request(conversation))


@shared_task
def detect_sla_breaches_task() -> int:
    """Beat, every minute: find SLA timers that ran out and tell people (each breach once)."""
    from heedful.inbox.sla import detect_sla_breaches

    return detect_sla_breaches()


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=6, acks_late=True)
def send_sla_notice_task(notice_id: int) -> bool:
    from heedful.inbox.sla import send_notice_email

    return send_notice_email(notice_id)
