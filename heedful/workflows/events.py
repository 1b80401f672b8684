"""Emitting domain events: the one call other apps make into workflows.

Call ``emit_event`` inside the service transaction that made the change, so the
event exists exactly when the change does; workflows consider it after commit::

    from heedful.workflows.events import emit_event

    @transaction.atomic
    def mark_order_shipped(order, ...):
        ...
        emit_event("order.shipped", {"order": {...}}, subject=Subject.of(contact, "contact"))

The names and payloads are documented in ``catalogue.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from heedful.governance.services import Subject
from heedful.workflows.catalogue import is_known_event
from heedful.workflows.models import Event, RunStatus, WorkflowDefinition, WorkflowRun


class UnknownEventError(ValueError):
    """The event name is not in the catalogue (``heedful/workflows/catalogue.py``)."""


def _as_subject(subject: Subject | models.Model | None) -> Subject | None:
    if subject is None or isinstance(subject, Subject):
        return subject
    return Subject.of(subject)


def _anyone_listens(name: str) -> bool:
    return (
        WorkflowDefinition.objects.filter(trigger_event=name).exists()
        or WorkflowRun.objects.filter(status=RunStatus.WAITING, waiting_event=name).exists()
    )


@transaction.atomic
def emit_event(
    name: str,
    payload: Mapping[str, Any] | None = None,
    subject: Subject | models.Model | None = None,
    *,
    occurred_at: datetime | None = None,
    source: str = "",
    idempotency_key: str | None = None,
) -> Event:
    """Record a domain event; after commit, workflows start on it or wake up for it.

    Emitting again with the same ``idempotency_key`` returns the first event.
    """
    if not is_known_event(name):
        raise UnknownEventError(f"{name!r} is not in the workflow event catalogue")
    if idempotency_key:
        existing = Event.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    who = _as_subject(subject)
    listened = _anyone_listens(name)
    try:
        with transaction.atomic():
            event = Event.objects.create(
                name=name,
                payload=dict(payload or {}),
                subject_type=who.type if who else "",
                subject_id=who.id if who else "",
                subject_label=who.label if who else "",
                occurred_at=occurred_at or timezone.now(),
                source=source,
                idempotency_key=idempotency_key,
                # Nobody listens: nothing to consider, and the event log says so.
                matched_at=None if listened else timezone.now(),
            )
    except IntegrityError:
        if not idempotency_key:
            raise
        return Event.objects.get(idempotency_key=idempotency_key)
    if listened:
        from heedful.workflows.tasks import match_event_task

        transaction.on_commit(lambda: match_event_task.delay(event.pk))
    return event
