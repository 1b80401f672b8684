"""Delivering the outbox: email through Django's email backend, webhooks over HTTP(S).

Delivery is at least once, with a stable identity: an email keeps its ``Message-ID``
and a webhook its ``X-Heedful-Delivery`` across attempts, so a receiver can drop a
repeat. A repeat can only happen if a worker dies in the instant between the server
accepting and our database recording it; the row is marked sent straight after the
server's answer, before the connection is closed, to keep that instant short.

Claiming is a conditional update (``pending`` → ``sending`` with a lease), so two
workers handed the same message never both send it; a lease that runs out (the
worker died) puts the message back for the sweep.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, models
from django.utils import timezone

from heedful.workflows.models import OutboxKind, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Heedful-Signature"
TIMESTAMP_HEADER = "X-Heedful-Timestamp"
DELIVERY_HEADER = "X-Heedful-Delivery"


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def backoff_seconds(attempts: int) -> float:
    """10 s, 20 s, 40 s … capped at an hour (``WORKFLOWS_OUTBOX_BACKOFF_SECONDS`` is the base)."""
    base = _setting("WORKFLOWS_OUTBOX_BACKOFF_SECONDS", 10)
    return float(min(base * 2 ** max(attempts - 1, 0), 3600))


def max_attempts() -> int:
    return int(_setting("WORKFLOWS_OUTBOX_MAX_ATTEMPTS", 12))


def webhook_key(workflow_slug: str) -> bytes:
    """The per-workflow signing key, derived from SECRET_KEY: nothing secret is stored in definitions."""
    return (
        hmac.new(
            settings.SECRET_KEY.encode(),
            f"heedful.workflows.webhook:{workflow_slug}".encode(),
            hashlib.sha256,
        )
        .hexdigest()
        .encode()
    )


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=`` + HMAC-SHA256 over ``"<timestamp>.<body>"`` (the timestamp stops replays)."""
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(key: bytes, timestamp: str, body: bytes, signature: str, *, max_age: float = 300) -> bool:
    try:
        age = abs(time.time() - float(timestamp))
    except ValueError:
        return False
    return age <= max_age and hmac.compare_digest(sign(key, timestamp, body), signature)


def _email(message: OutboxMessage) -> EmailMessage:
    payload = message.payload
    return EmailMessage(
        subject=payload["subject"],
        body=payload["body"],
        from_email=payload.get("from") or settings.DEFAULT_FROM_EMAIL,
        to=payload["to"],
        headers={"Message-ID": payload["message_id"], "X-Heedful-Outbox": str(message.pk)},
    )


def _send_email(message: OutboxMessage) -> None:
    connection = get_connection()
    connection.open()
    try:
        connection.send_messages([_email(message)])
        # Recorded before closing the connection: the server has the message now.
        _mark_sent(message.pk)
    finally:
        connection.close()


def _send_webhook(message: OutboxMessage) -> None:
    payload = message.payload
    body = json.dumps(payload.get("body", {}), sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - the URL is validated to be http(s) on save
        payload["url"],
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "heedful-workflows",
            DELIVERY_HEADER: payload["delivery_id"],
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(webhook_key(payload.get("workflow", "")), timestamp, body),
        },
    )
    with urllib.request.urlopen(request, timeout=payload.get("timeout", 10)) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")
    _mark_sent(message.pk)


def _mark_sent(message_id: int) -> None:
    # filter(pk=…, status=sending).update(status=sent, …) as one plain statement: it runs once per
    # email, and building the ORM query cost more than the database's work (cProfile, 2,000 emails).
    table = connection.ops.quote_name(OutboxMessage._meta.db_table)
    sql = (
        f"UPDATE {table} SET status = %s, sent_at = %s, locked_until = NULL, last_error = ''"  # noqa: S608
        " WHERE id = %s AND status = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                OutboxStatus.SENT.value,
                connection.ops.adapt_datetimefield_value(timezone.now()),
                message_id,
                OutboxStatus.SENDING.value,
            ],
        )


def _claim(message_id: int) -> OutboxMessage | None:
    """Move the message from pending to sending with a lease; None when someone else has it."""
    now = timezone.now()
    lease = timedelta(seconds=_setting("WORKFLOWS_OUTBOX_LEASE_SECONDS", 300))
    claimed = OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.SENDING, locked_until=now + lease, attempts=models.F("attempts") + 1
    )
    return OutboxMessage.objects.get(pk=message_id) if claimed else None


def _claim_many(message_ids: list[int]) -> list[OutboxMessage]:
    """``_claim`` for many in one statement: the messages this worker now holds, in id order."""
    if not message_ids:
        return []
    until = timezone.now() + timedelta(seconds=_setting("WORKFLOWS_OUTBOX_LEASE_SECONDS", 300))
    table = connection.ops.quote_name(OutboxMessage._meta.db_table)
    marks = ", ".join(["%s"] * len(message_ids))
    # A conditional update() does not say which rows it moved, and two workers handed the same
    # ids must each send only their own: RETURNING says (PostgreSQL, SQLite 3.35+). Only the
    # table name is formatted in, from the model; every value is a parameter.
    sql = (
        f"UPDATE {table} SET status = %s, locked_until = %s, attempts = attempts + 1"  # noqa: S608
        f" WHERE id IN ({marks}) AND status = %s RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                OutboxStatus.SENDING.value,
                connection.ops.adapt_datetimefield_value(until),
                *message_ids,
                OutboxStatus.PENDING.value,
            ],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    return list(OutboxMessage.objects.filter(pk__in=claimed).order_by("pk"))


def deliver(message_id: int) -> str:
    """Try to deliver one message; returns its status afterwards. Safe to call twice."""
    message = _claim(message_id)
    if message is None:
        return str(OutboxMessage.objects.filter(pk=message_id).values_list("status", flat=True).first() or "")
    try:
        if message.kind == OutboxKind.EMAIL:
            _send_email(message)
        else:
            _send_webhook(message)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        # smtplib and socket errors are OSErrors; a bad address is a ValueError.
        return _record_failure(message, f"{type(exc).__name__}: {exc}")
    return OutboxStatus.SENT


def deliver_many(message_ids: list[int]) -> int:
    """Deliver several messages: the emails over one SMTP connection. Returns how many were sent.

    The batch is claimed in one statement (each message leased, as ``deliver`` leases one);
    each is marked sent on its own, right after the server took it, so a crash half-way
    leaves the rest leased, for the sweep to put back and send once the lease runs out. Opening a
    connection per email costs more than sending one; a campaign of thousands notices.
    """
    claimed = _claim_many(message_ids)
    emails = [m for m in claimed if m.kind == OutboxKind.EMAIL]
    sent = 0
    for message in claimed:
        if message.kind != OutboxKind.EMAIL:
            try:
                _send_webhook(message)
                sent += 1
            except (OSError, urllib.error.URLError, ValueError) as exc:
                _record_failure(message, f"{type(exc).__name__}: {exc}")
    if not emails:
        return sent
    connection = get_connection()
    try:
        connection.open()
    except OSError as exc:
        for message in emails:
            _record_failure(message, f"{type(exc).__name__}: {exc}")
        return sent
    try:
        for index, message in enumerate(emails):
            try:
                connection.send_messages([_email(message)])
            except (OSError, ValueError) as exc:
                _record_failure(message, f"{type(exc).__name__}: {exc}")
                if isinstance(exc, OSError):
                    # The connection is likely gone: the rest wait for their own retry.
                    for rest in emails[index + 1 :]:
                        _record_failure(rest, f"{type(exc).__name__}: {exc}")
                    break
                continue
            _mark_sent(message.pk)
            sent += 1
    finally:
        with contextlib.suppress(OSError):
            connection.close()
    return sent


def _record_failure(message: OutboxMessage, error: str) -> str:
    now = timezone.now()
    changes: dict[str, Any]
    if message.attempts >= max_attempts():
        status = OutboxStatus.FAILED
        changes = {"status": status, "locked_until": None, "last_error": error[:2000]}
        log.warning("outbox %s failed for good after %s attempts: %s", message.pk, message.attempts, error)
    else:
        status = OutboxStatus.PENDING
        changes = {
            "status": status,
            "locked_until": None,
            "last_error": error[:2000],
            "next_attempt_at": now + timedelta(seconds=backoff_seconds(message.attempts)),
        }
    OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.SENDING).update(**changes)
    return status


def retry_failed(message_id: int) -> bool:
    """A person asks to try a failed message again."""
    return bool(
        # An email to a person since erased has nothing left to send (workflows/erasure.py).
        OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.FAILED)
        .exclude(payload__erased=True)
        .update(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now())
    )
