"""Writes of the brief app."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from heedful.brief.models import Heartbeat

SCHEDULER = "scheduler"


def record_heartbeat(now: datetime | None = None) -> datetime:
    """Note that the scheduler and a worker are alive (idempotent: the row holds the latest)."""
    at = now or timezone.now()
    Heartbeat.objects.update_or_create(name=SCHEDULER, defaults={"beat_at": at})
    return at
