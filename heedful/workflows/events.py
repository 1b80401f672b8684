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

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from heedful.governance.services import Subject
from heedful.workflows.catalogue import is_known_event
from heedful.workflows.models import Event, RunStatus, WorkflowDefinition, WorkflowRun

# Events matched per task when many arrive at once (``emit_events``).
MATCH_BATCH = 100


class UnknownEventError(ValueError):
    """The event name is not in the catalogue (``heedful/workflows/catalogue.py``)."""


def _as_subject(subject: Subject | models.Model | None) -> Subject | None:
    if subject is None or isinstance(subject, Subject):
        return subject
    return Subject.of(subject)


def _anyone_listens(name: str) -> bool:
    """Whether a workflow (on or off: the event log explains "off") or a waiting run cares.

    One query: a waiting run belongs to a workflow, so when any run waits there is a
    definition row for the uncorrelated ``EXISTS`` to be asked on. Not cached per process:
    a workflow switched on in the web process must count at once in the worker, and the
    only stamp both could share in the embedded mode (no Redis, each process with its own
    local-memory cache) is a database row, whose read costs as much as this indexed query.
    """
    waiting = WorkflowRun.objects.filter(status=RunStatus.WAITING, waiting_event=name)
    return WorkflowDefinition.objects.filter(models.Q(trigger_event=name) | models.Exists(waiting)).exists()


def _has_action_step(definition: Mapping[str, Any], action: str) -> bool:
    return any(
        step.get("type") == "action" and step.get("action") == action for step in definition.get("steps", [])
    )


def has_enabled_listener(
    name: str,
    payload: Mapping[str, Any] | None = None,
    subject: Subject | models.Model | None = None,
    *,
    action: str | None = None,
) -> bool:
    """Whether an enabled workflow will start on ``name`` (with this payload, when given).

    For a built-in behaviour that a workflow may take over (the inbox's order emails):
    the emitter asks inside its transaction and does the built-in thing only when no
    workflow will, so one change is never announced twice. With a payload, the trigger's
    conditions count too: a workflow "shipped with DHL" leaves UPS orders to the built-in.
    With ``action``, only a workflow with a step doing that action counts: a workflow that
    merely tags resolved conversations does not take over the inbox's CSAT question.
    """
    from heedful.workflows.engine import initial_context, subject_dict, values_for
    from heedful.workflows.expressions import evaluate_all

    listeners = WorkflowDefinition.objects.filter(trigger_event=name, enabled=True).select_related(
        "current_version"
    )
    who = _as_subject(subject)
    for workflow in listeners:
        version = workflow.current_version
        if action is not None and (version is None or not _has_action_step(version.definition, action)):
            continue
        if payload is None or version is None:
            return True
        trigger = version.definition["trigger"]
        values = values_for(
            context={**initial_context(None, dict(payload)), "event_name": name},
            subject=subject_dict(who.type, who.id, who.label) if who else {},
            workflow={"slug": workflow.slug, "name": workflow.name},
            run_id=None,
        )
        if evaluate_all(trigger.get("conditions", []), values, trigger.get("match", "all"))[0]:
            return True
    return False


def was_emitted(idempotency_key: str) -> bool:
    """Whether an event with this key exists (for once-ever events like ``customer.onboarded``)."""
    return Event.objects.filter(idempotency_key=idempotency_key).exists()


@transaction.atomic
def emit_events(
    name: str,
    items: Iterable[tuple[Mapping[str, Any], Subject | models.Model | None]],
    *,
    source: str = "",
    batch_size: int = 1000,
) -> int:
    """Record many events of one kind at once (an import); returns how many.

    The same as calling ``emit_event`` for each ``(payload, subject)``, in a few queries
    per thousand instead of a few per event.
    """
    if not is_known_event(name):
        raise UnknownEventError(f"{name!r} is not in the workflow event catalogue")
    listened = _anyone_listens(name)
    now = timezone.now()
    rows = []
    for payload, subject in items:
        who = _as_subject(subject)
        rows.append(
            Event(
                name=name,
                payload=dict(payload or {}),
                subject_type=who.type if who else "",
                subject_id=who.id if who else "",
                subject_label=who.label if who else "",
                occurred_at=now,
                source=source,
                matched_at=None if listened else now,
            )
        )
    if not rows:
        return 0
    created = Event.objects.bulk_create(rows, batch_size=batch_size)
    if listened:
        from heedful.workflows.tasks import match_events_task

        # PostgreSQL and SQLite (3.35+) return the new ids from a bulk insert.
        ids = [e.pk for e in created]

        def enqueue() -> None:
            for start in range(0, len(ids), MATCH_BATCH):
                match_events_task.delay(ids[start : start + MATCH_BATCH])

        transaction.on_commit(enqueue)
    return len(rows)


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
    outgoing = _outgoing_of_this_transaction()
    # Once an event of this name was found listened to in this transaction, the next ones are
    # too (a listener removed in between leaves them to a matching that finds nobody).
    listened = (outgoing is not None and name in outgoing.listened) or _anyone_listens(name)
    event = Event(
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
    if not idempotency_key:
        # Without a key there is no race to lose, so no savepoint around the insert.
        event.save(force_insert=True)
    else:
        try:
            with transaction.atomic():
                event.save(force_insert=True)
        except IntegrityError:
            return Event.objects.get(idempotency_key=idempotency_key)
    if listened:
        _match_after_commit(event.pk, name)
    return event


class _Outgoing:
    """The events of one transaction that are to be matched once it commits, sent together.

    A service emitting several events in one transaction (or a loop emitting a hundred) gets
    one matching task per ``MATCH_BATCH`` events, not one per event: matching them together
    (``bulk.match_many``) leaves the same rows in a few statements for the batch. An event
    emitted alone still goes to ``match_event_task`` on its own.
    """

    def __init__(self) -> None:
        self.committed: list[int] = []
        # The names some workflow or waiting run was found to listen to, in this transaction.
        self.listened: set[str] = set()

    def confirm(self, event_id: int) -> None:
        self.committed.append(event_id)

    def send(self) -> None:
        from heedful.workflows.tasks import match_event_task, match_events_task

        ids = list(dict.fromkeys(self.committed))
        if len(ids) == 1:
            match_event_task.delay(ids[0])
            return
        for start in range(0, len(ids), MATCH_BATCH):
            match_events_task.delay(ids[start : start + MATCH_BATCH])


class _SendHere:
    """A place in the transaction's on-commit list from which the batch is sent; each emit adds
    one after its own callback, and only the latest sends (the earlier ones stay, doing nothing,
    so the list never shifts under anyone counting its entries, as ``captureOnCommitCallbacks``
    does)."""

    def __init__(self, batch: _Outgoing) -> None:
        self.batch = batch
        self.latest = True

    def send(self) -> None:
        if self.latest:
            self.batch.send()


def _latest_send(hooks: list[tuple[set[str], Any, bool]]) -> _SendHere | None:
    for _sids, func, _robust in reversed(hooks):
        place = getattr(func, "__self__", None)
        if isinstance(place, _SendHere):
            return place if place.latest else None
    return None


def _outgoing_of_this_transaction() -> _Outgoing | None:
    """The batch an earlier event of this transaction opened, if any."""
    place = _latest_send(transaction.get_connection().run_on_commit)
    return place.batch if place is not None else None


def _match_after_commit(event_id: int, name: str) -> None:
    """Queue the event's matching for after the commit, in one batch with the transaction's others.

    Each event gets its own on-commit callback, which Django drops with a savepoint that rolls
    back; the callback only marks the event as committed. The batch is sent from the place
    after the last event's callback, so every surviving event was marked by then. That place is
    added with no savepoint (Django then keeps it until the transaction ends, whatever rolls
    back): the one use of Django's private ``run_on_commit``, besides reading it.
    """
    connection = transaction.get_connection()
    previous = _latest_send(connection.run_on_commit)
    batch = previous.batch if previous is not None else _Outgoing()
    if previous is not None:
        previous.latest = False
    batch.listened.add(name)
    transaction.on_commit(partial(batch.confirm, event_id))
    connection.run_on_commit.append((set(), _SendHere(batch).send, False))
