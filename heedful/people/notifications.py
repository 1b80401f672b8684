"""Outgoing people email. Every message is claimed in ``SentNotification`` first, so a task that
is retried after a crash never sends the same message twice."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from heedful.people.models import SentNotification


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def url(name: str, *args: object) -> str:
    return absolute(reverse(name, args=args))


def send_once(key: str, *, to: str, subject: str, body: str) -> bool:
    """Send unless a message with ``key`` went out already; returns whether it was sent now."""
    try:
        with transaction.atomic():
            SentNotification.objects.create(key=key[:200])
            # Inside the claim's transaction: a failed send releases the claim for the retry.
            send_mail(subject, body, None, [to])
    except IntegrityError:
        return False
    return True
