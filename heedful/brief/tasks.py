"""Celery tasks of the brief app."""

from __future__ import annotations

from celery import shared_task

from heedful.brief import services


@shared_task
def record_heartbeat_task() -> str:
    """Sent by beat every minute; the home page warns when it stops arriving."""
    return services.record_heartbeat().isoformat()
