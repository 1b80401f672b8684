"""Outgoing webhooks on conversation events, HMAC-signed.

Subscribers are configured as ``HEEDFUL_INBOX_WEBHOOKS = [{"url": …, "secret": …}]``. Each
event writes one ``WebhookDelivery`` per subscriber inside the event's own transaction, so an
event that happened is never lost and one that was rolled back is never sent. Delivery signs
the body as ``X-Heedful-Signature: sha256=<HMAC-SHA256 hex of the raw body>`` and carries
``X-Heedful-Event`` and ``X-Heedful-Delivery`` (the id, for the receiver's de-duplication).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from heedful.inbox.models import Conversation, WebhookDelivery

EVENTS = {"conversation.created", "message.received", "conversation.handed_off", "conversation.resolved"}
MAX_ATTEMPTS = 8


def _subscribers() -> list[dict[str, str]]:
    return list(getattr(settings, "HEEDFUL_INBOX_WEBHOOKS", []) or [])


def _secret_for(url: str) -> str:
    return next((str(s.get("secret", "")) for s in _subscribers() if s.get("url") == url), "")


def emit(event: str, conversation: Conversation, **extra: Any) -> None:
    """Queue ``event`` for every subscriber; call inside the transaction that made it happen."""
    subscribers = _subscribers()
    if not subscribers:
        return
    payload = {
        "event": event,
        "conversation": {
            "id": conversation.pk,
            "channel": conversation.channel,
            "status": conversation.status,
            "customer_email": conversation.customer_email,
        },
        **extra,
    }
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(url=s["url"], event=event, payload=payload) for s in subscribers
    )
    from heedful.inbox.tasks import deliver_webhook_task

    for row in rows:
        transaction.on_commit(_queue(deliver_webhook_task, row.pk))


def _queue(task: Any, delivery_id: int) -> Any:
    return lambda: task.delay(delivery_id)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(delivery_id: int) -> str:
    """POST one delivery; claimed first so two workers never send it twice."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status="pending", next_attempt_at__lte=now
    ).update(status="sending")
    if not claimed:
        return WebhookDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first() or ""
    row = WebhookDelivery.objects.get(pk=delivery_id)
    body = json.dumps(row.payload, cls=DjangoJSONEncoder).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is the owner's configured http(s) subscriber
        row.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Heedful-Event": row.event,
            "X-Heedful-Delivery": str(row.pk),
            "X-Heedful-Signature": sign(_secret_for(row.url), body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - see above
            ok = 200 <= response.status < 300
            error = "" if ok else f"HTTP {response.status}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        ok, error = False, f"{type(exc).__name__}: {exc}"
    attempts = row.attempts + 1
    if ok:
        status, next_at = "sent", now
    elif attempts >= MAX_ATTEMPTS:
        status, next_at = "failed", now
    else:
        status, next_at = "pending", now + timedelta(minutes=2**attempts)
    WebhookDelivery.objects.filter(pk=row.pk).update(
        status=status, attempts=attempts, last_error=error[:2000], next_attempt_at=next_at
    )
    return status


def due_delivery_ids() -> list[int]:
    now = timezone.now()
    WebhookDelivery.objects.filter(status="sending", next_attempt_at__lte=now - timedelta(minutes=10)).update(
        status="pending"
    )
    return list(
        WebhookDelivery.objects.filter(status="pending", next_attempt_at__lte=now).values_list(
            "pk", flat=True
        )
    )
