"""Writes for workflows: definitions and versions, matching events, runs, the sweep."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from heedful.governance.models import ProposalStatus, ProposedAction
from heedful.governance.services import Subject, record_audit
from heedful.workflows.definition import check
from heedful.workflows.engine import finish_run, initial_context, mentions_contact, subject_dict, values_for
from heedful.workflows.events import emit_event
from heedful.workflows.expressions import evaluate_all
from heedful.workflows.models import (
    ACTIVE_RUN_STATUSES,
    Consideration,
    Event,
    OutboxMessage,
    OutboxStatus,
    RunStatus,
    WorkflowDefinition,
    WorkflowRun,
    WorkflowVersion,
)

if TYPE_CHECKING:
    from heedful.accounts.models import User

log = logging.getLogger(__name__)


# Runs advanced per task, and outbox messages per SMTP connection, in bulk work.
RUN_BATCH = 50
DELIVERY_BATCH = 50


class WorkflowStateError(Exception):
    """The run or workflow is not in a state that allows this (someone else got there first)."""


def _enqueue_runs(run_ids: list[int]) -> None:
    if not run_ids:
        return
    from heedful.workflows.tasks import advance_run_task

    transaction.on_commit(lambda: [advance_run_task.delay(run_id) for run_id in run_ids])


# --- Definitions --------------------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:90] or "workflow"
    slug, n = base, 2
    while WorkflowDefinition.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def create_workflow(
    *,
    name: str,
    definition: dict[str, Any],
    user: User | None,
    description: str = "",
    slug: str = "",
    enabled: bool = False,
    template_key: str = "",
) -> WorkflowDefinition:
    """Create a workflow with its first version; raises DefinitionError listing every problem."""
    check(definition)
    workflow = WorkflowDefinition.objects.create(
        name=name.strip()[:200],
        slug=slug or _unique_slug(name),
        description=description,
        enabled=enabled,
        created_by=user,
        template_key=template_key,
    )
    _new_version(workflow, definition, user, note="created")
    record_audit(
        action="workflow.create",
        user=user,
        obj=workflow,
        summary=f"Workflow “{workflow.name}” created ({'on' if enabled else 'off'})"
        + (f" from the template {template_key}" if template_key else ""),
    )
    return workflow


def _new_version(
    workflow: WorkflowDefinition, definition: dict[str, Any], user: User | None, note: str = ""
) -> WorkflowVersion:
    number = (workflow.versions.aggregate(n=models.Max("number"))["n"] or 0) + 1
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=number, definition=definition, created_by=user, note=note[:200]
    )
    workflow.current_version = version
    workflow.trigger_event = definition["trigger"]["event"]
    workflow.save(update_fields=["current_version", "trigger_event", "updated_at"])
    return version


@transaction.atomic
def save_version(
    workflow_id: int, *, definition: dict[str, Any], user: User | None, note: str = ""
) -> WorkflowVersion:
    """Save an edited definition as a new version; running runs keep theirs."""
    check(definition)
    workflow = WorkflowDefinition.objects.select_for_update().get(pk=workflow_id)
    before = workflow.current_version.number if workflow.current_version else 0
    version = _new_version(workflow, definition, user, note)
    record_audit(
        action="workflow.edit",
        user=user,
        obj=workflow,
        summary=f"Workflow “{workflow.name}”: v{before} → v{version.number}" + (f" ({note})" if note else ""),
    )
    return version


@transaction.atomic
def set_enabled(workflow_id: int, *, enabled: bool, user: User | None) -> WorkflowDefinition:
    workflow = WorkflowDefinition.objects.select_for_update().get(pk=workflow_id)
    if workflow.enabled != enabled:
        workflow.enabled = enabled
        workflow.save(update_fields=["enabled", "updated_at"])
        record_audit(
            action="workflow.enable" if enabled else "workflow.disable",
            user=user,
            obj=workflow,
            summary=f"Workflow “{workflow.name}” turned {'on' if enabled else 'off'}",
            changes={"enabled": [not enabled, enabled]},
        )
    return workflow


# --- Matching events ----------------------------------------------------------------------


def _event_values(event: Event, workflow: WorkflowDefinition, conditions: list[Any]) -> dict[str, Any]:
    return values_for(
        context=initial_context(event),
        subject=subject_dict(event.subject_type, event.subject_id, event.subject_label),
        workflow={"slug": workflow.slug, "name": workflow.name},
        run_id=None,
        # Conditions that never name the contact do without its lookup in crm.
        contact_now=None if mentions_contact(conditions) else {},
    )


def trigger_verdict(
    trigger: dict[str, Any],
    event: Event,
    seen_subjects: set[tuple[str, str]],
    *,
    contact_now: dict[str, Any] | None = None,
) -> str:
    """For the dry run: why this event would not start a run ("" when it would).

    ``contact_now``: the subject contact read beforehand, for a caller judging many events.
    """
    values = values_for(
        context=initial_context(event),
        subject=subject_dict(event.subject_type, event.subject_id, event.subject_label),
        workflow={"slug": "dry-run", "name": "dry run"},
        run_id=None,
        contact_now=contact_now,
    )
    passed, evaluations = evaluate_all(trigger.get("conditions", []), values, trigger.get("match", "all"))
    if not passed:
        return "conditions not met: " + ", ".join(sorted({e.path for e in evaluations if not e.passed}))
    subject = (event.subject_type, event.subject_id)
    if event.subject_type and trigger.get("reentry", "always") != "always" and subject in seen_subjects:
        return f"already started for this {event.subject_type} ({trigger['reentry'].replace('_', ' ')})"
    return ""


def new_run(
    event: Event, workflow: WorkflowDefinition, version: WorkflowVersion, reentry: str, details: list[Any]
) -> WorkflowRun:
    """The run an event starts, not yet saved; one by one (``consider``) and in bulk (bulk.py)."""
    key = _subject_key(workflow, event)
    has_subject = bool(event.subject_type)
    return WorkflowRun(
        workflow=workflow,
        version=version,
        event=event,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        subject_label=event.subject_label,
        context=initial_context(event),
        started_because={
            "summary": f"{event.name} (event #{event.pk}) matched the trigger of v{version.number}",
            "event": event.name,
            "event_id": event.pk,
            "conditions": details,
        },
        once_key=key if reentry == "once_per_subject" and has_subject else None,
        active_key=key if reentry == "not_while_active" and has_subject else None,
    )


def _subject_key(workflow: WorkflowDefinition, event: Event) -> str:
    return f"{workflow.pk}:{event.subject_type}:{event.subject_id}"


def consider(workflow: WorkflowDefinition, event: Event) -> tuple[Consideration, WorkflowRun | None]:
    """Decide whether ``event`` starts ``workflow``, and write down why (or why not)."""
    version = workflow.current_version

    def skip(reason: str, details: list[dict[str, Any]] | None = None) -> tuple[Consideration, None]:
        return (
            Consideration.objects.create(
                event=event, workflow=workflow, version=version, reason=reason[:300], details=details or []
            ),
            None,
        )

    if version is None:
        return skip("The workflow has no saved version")
    if not workflow.enabled:
        return skip("The workflow is off")
    trigger = version.definition["trigger"]
    conditions = trigger.get("conditions", [])
    passed, evaluations = evaluate_all(
        conditions, _event_values(event, workflow, conditions), trigger.get("match", "all")
    )
    details = [e.as_dict() for e in evaluations]
    if not passed:
        failing = "; ".join(e.text for e in evaluations if not e.passed)
        return skip(f"Conditions not met: {failing}", details)
    reentry = trigger.get("reentry", "always")
    has_subject = bool(event.subject_type)
    same_subject = WorkflowRun.objects.filter(
        workflow=workflow, subject_type=event.subject_type, subject_id=event.subject_id
    )
    if reentry == "once_per_subject" and has_subject:
        earlier = same_subject.order_by("pk").first()
        if earlier is not None:
            return skip(f"Runs once per {event.subject_type}, and run #{earlier.pk} already did", details)
    if reentry == "not_while_active" and has_subject:
        active = same_subject.filter(status__in=ACTIVE_RUN_STATUSES).first()
        if active is not None:
            return skip(f"Run #{active.pk} for this {event.subject_type} is still going", details)
    run = new_run(event, workflow, version, reentry, details)
    if run.once_key is None and run.active_key is None:
        # No key to race on: the one run per workflow and event is kept by the event's lock,
        # which every matcher takes first, so no savepoint is needed around the insert.
        run.save(force_insert=True)
    else:
        try:
            # A savepoint: losing a race on the once/active keys must not spoil the caller's
            # transaction.
            with transaction.atomic():
                run.save(force_insert=True)
        except IntegrityError:
            return skip(
                f"Another run for this {event.subject_type or 'event'} started at the same moment", details
            )
    consideration = Consideration.objects.create(
        event=event,
        workflow=workflow,
        version=version,
        started=True,
        reason=f"Started run #{run.pk}",
        details=details,
        run=run,
    )
    return consideration, run


def _wake_waiting_for(event: Event) -> list[int]:
    from heedful.workflows.engine import event_matches

    waiting = WorkflowRun.objects.filter(status=RunStatus.WAITING, waiting_event=event.name).filter(
        models.Q(subject_type=event.subject_type, subject_id=event.subject_id)
        | models.Q(wait_match__same_subject=False)
    )
    woken = []
    for run_id, match in waiting.values_list("pk", "wait_match"):
        if not event_matches(event.payload, match or {}):
            continue
        if WorkflowRun.objects.filter(pk=run_id, status=RunStatus.WAITING, waiting_event=event.name).update(
            status=RunStatus.RUNNING, wake_event=event, touched_at=timezone.now()
        ):
            woken.append(run_id)
    return woken


def match_event(event_id: int) -> list[int]:
    """Let every workflow consider the event, and wake runs waiting for it. Idempotent.

    Returns the runs started or woken. The event row is locked and stamped in the same
    transaction, so a second matcher (a retried or duplicated task) does nothing.
    """
    with transaction.atomic():
        ids = _match_locked(event_id)
        _enqueue_runs(ids)
        return ids


def match_events(event_ids: list[int]) -> list[int]:
    """``match_event`` for each, in one transaction; the runs go on in batches.

    A worker lost after the commit leaves those runs ``running`` untouched, and the
    sweep queues them again after ``WORKFLOWS_STALL_SECONDS``.
    """
    from heedful.workflows.bulk import match_many
    from heedful.workflows.tasks import advance_runs_task

    # One transaction for the batch: a commit costs more than matching an event. A failure
    # rolls the batch back and the task (or the sweep) matches it again. The events are
    # considered together (bulk.py): a few queries for the batch, not a few per event.
    with transaction.atomic():
        ids = match_many(event_ids)
    for start in range(0, len(ids), RUN_BATCH):
        advance_runs_task.delay(ids[start : start + RUN_BATCH])
    return ids


def _claim_for_matching(event_id: int) -> Event | None:
    """The event, stamped as matched, when no matcher had it yet; None otherwise.

    One conditional UPDATE (the claim and the stamp, where a SELECT … FOR UPDATE and a later
    UPDATE took two statements): the row stays locked until the caller's transaction ends, so
    a second matcher waits, then finds it stamped, or takes it if this transaction rolled back.
    """
    quote = connection.ops.quote_name
    meta = Event._meta
    stamp = meta.get_field("matched_at")
    now = stamp.get_db_prep_save(timezone.now(), connection)
    columns = ", ".join(quote(str(f.column)) for f in meta.concrete_fields)
    matched = quote(str(stamp.column))
    # Only names from the model are formatted in; the values are parameters.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {matched} = %s"  # noqa: S608
        f" WHERE {quote(str(meta.pk.column))} = %s AND {matched} IS NULL RETURNING {columns}"
    )
    return next(iter(Event.objects.raw(sql, [now, event_id])), None)


def _match_locked(event_id: int) -> list[int]:
    event = _claim_for_matching(event_id)
    if event is None:
        return []
    started = []
    # Whether each listener considered the event already, in the same query as the listeners.
    considered = Consideration.objects.filter(event=event, workflow=models.OuterRef("pk"))
    listeners = (
        WorkflowDefinition.objects.filter(trigger_event=event.name)
        .select_related("current_version")
        .annotate(considered=models.Exists(considered))
    )
    for workflow in listeners:
        if workflow.considered:
            continue
        _consideration, run = consider(workflow, event)
        if run is not None:
            started.append(run.pk)
    woken = _wake_waiting_for(event)
    return started + woken


# --- Starting and steering runs -----------------------------------------------------------


@transaction.atomic
def start_manually(
    workflow_id: int, *, user: User, subject: Subject | None = None, payload: dict[str, Any] | None = None
) -> WorkflowRun:
    """Start one run by hand, whatever the trigger says; the event log records who did."""
    workflow = WorkflowDefinition.objects.select_related("current_version").get(pk=workflow_id)
    version = workflow.current_version
    if version is None:
        raise WorkflowStateError("This workflow has no saved version.")
    event = emit_event(
        "workflow.manual_start",
        {**(payload or {}), "started_by": user.email, "workflow": workflow.slug},
        subject,
        source="manual",
    )
    # Only this workflow starts; other listeners for manual starts are not meant.
    Event.objects.filter(pk=event.pk).update(matched_at=timezone.now())
    run = new_run(event, workflow, version, "always", [])
    run.started_by = user
    run.started_because = {
        "summary": f"Started by hand by {user.email}",
        "event": event.name,
        "event_id": event.pk,
    }
    run.save(force_insert=True)
    Consideration.objects.create(
        event=event,
        workflow=workflow,
        version=version,
        started=True,
        reason=f"Started run #{run.pk} by hand",
        run=run,
    )
    record_audit(action="workflow.start", user=user, obj=run, summary=f"Started “{workflow.name}” by hand")
    _enqueue_runs([run.pk])
    return run


@transaction.atomic
def retry_run(run_id: int, *, user: User | None) -> WorkflowRun:
    """Retry a failed run from the step that failed (earlier steps are not repeated)."""
    if not WorkflowRun.objects.filter(pk=run_id, status=RunStatus.FAILED).update(
        status=RunStatus.RUNNING, attempts=0, finished_at=None, touched_at=timezone.now()
    ):
        raise WorkflowStateError("Only a failed run can be retried.")
    run = WorkflowRun.objects.select_related("workflow").get(pk=run_id)
    record_audit(
        action="workflow.retry",
        user=user,
        obj=run,
        summary=f"Retried run #{run.pk} of “{run.workflow.name}” from step {run.cursor + 1} ({run.error})",
    )
    _enqueue_runs([run.pk])
    return run


@transaction.atomic
def cancel_run(run_id: int, *, user: User) -> WorkflowRun:
    run = WorkflowRun.objects.select_for_update().select_related("workflow").get(pk=run_id)
    if not run.is_active:
        raise WorkflowStateError("This run has already ended.")
    finish_run(run, RunStatus.CANCELLED, f"Cancelled by {user.email}")
    run.save()
    record_audit(action="workflow.cancel", user=user, obj=run, summary=f"Cancelled run #{run.pk}")
    return run


def advance_run(run_id: int) -> int:
    from heedful.workflows.engine import advance_run as run_steps

    return run_steps(run_id)


def advance_runs(run_ids: list[int]) -> int:
    """``advance_run`` for each, in one transaction; runs standing at the same action step take
    it together (``bulk.py``), and their emails leave in batches over one connection each."""
    from heedful.workflows.actions import collect_deliveries
    from heedful.workflows.bulk import advance_many
    from heedful.workflows.tasks import advance_runs_task, deliver_outbox_batch_task

    with collect_deliveries() as outbox_ids, transaction.atomic():
        # One transaction for the batch, its runs locked in id order (two batches never wait
        # on each other in a circle). Each run's steps keep their own savepoints; a database
        # error rolls the batch back and the task runs it again, finding done steps done.
        ran, unfinished = advance_many(run_ids)
        if unfinished:
            # Long runs yield the worker to others and go on in a fresh task.
            transaction.on_commit(lambda: advance_runs_task.delay(unfinished))
    for start in range(0, len(outbox_ids), DELIVERY_BATCH):
        deliver_outbox_batch_task.delay(outbox_ids[start : start + DELIVERY_BATCH])
    return ran


# --- The sweep (beat) ---------------------------------------------------------------------


def _claim_ids(queryset: models.QuerySet[Any], limit: int) -> list[int]:
    """Ids to claim; on PostgreSQL, rows another sweeper holds are skipped, not waited for."""
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset.order_by("pk").values_list("pk", flat=True)[:limit])


def _wake_due_runs(now: datetime, limit: int) -> list[int]:
    due = WorkflowRun.objects.filter(status__in=(RunStatus.WAITING, RunStatus.RETRYING), wake_at__lte=now)
    claimed = []
    for run_id in _claim_ids(due, limit):
        # The conditional update is the claim: of two sweepers exactly one changes the row.
        if WorkflowRun.objects.filter(
            pk=run_id, status__in=(RunStatus.WAITING, RunStatus.RETRYING), wake_at__lte=now
        ).update(status=RunStatus.RUNNING, touched_at=now):
            claimed.append(run_id)
    return claimed


def _wake_decided_approvals(now: datetime, limit: int) -> list[int]:
    waiting = WorkflowRun.objects.filter(status=RunStatus.WAITING, waiting_proposal_id__isnull=False)
    pairs = dict(waiting.values_list("waiting_proposal_id", "pk")[:limit])
    decided = ProposedAction.objects.filter(pk__in=list(pairs)).exclude(
        status__in=(ProposalStatus.PENDING, ProposalStatus.APPROVED)
    )
    woken = []
    for proposal_id in decided.values_list("pk", flat=True):
        run_id = pairs[proposal_id]
        if WorkflowRun.objects.filter(
            pk=run_id, status=RunStatus.WAITING, waiting_proposal_id=proposal_id
        ).update(status=RunStatus.RUNNING, touched_at=now):
            woken.append(run_id)
    return woken


def _requeue_stalled_runs(now: datetime, stall_after: timedelta, limit: int) -> list[int]:
    stalled = WorkflowRun.objects.filter(status=RunStatus.RUNNING, touched_at__lte=now - stall_after)
    requeued = []
    for run_id in _claim_ids(stalled, limit):
        if WorkflowRun.objects.filter(
            pk=run_id, status=RunStatus.RUNNING, touched_at__lte=now - stall_after
        ).update(touched_at=now):
            requeued.append(run_id)
    return requeued


def _requeue_unmatched_events(now: datetime, stall_after: timedelta, limit: int) -> list[int]:
    cutoff = now - stall_after
    lost = Event.objects.filter(matched_at__isnull=True, occurred_at__lte=cutoff).filter(
        models.Q(requeued_at__isnull=True) | models.Q(requeued_at__lte=cutoff)
    )
    claimed = []
    for event_id in _claim_ids(lost, limit):
        # Stamped so the next sweeps leave it alone while this task is still queued.
        if (
            Event.objects.filter(pk=event_id, matched_at__isnull=True)
            .filter(models.Q(requeued_at__isnull=True) | models.Q(requeued_at__lte=cutoff))
            .update(requeued_at=now)
        ):
            claimed.append(event_id)
    return claimed


def _due_outbox(now: datetime, stall_after: timedelta, limit: int) -> list[int]:
    # A claim whose worker died: back to pending, to be tried again.
    OutboxMessage.objects.filter(status=OutboxStatus.SENDING, locked_until__lte=now).update(
        status=OutboxStatus.PENDING, locked_until=None, next_attempt_at=now
    )
    # A message never tried yet has its task queued already (alone or in a batch); the sweep
    # steps in only when that task seems lost, so it does not queue every new email twice.
    due = OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now).filter(
        models.Q(attempts__gt=0) | models.Q(created_at__lte=now - stall_after)
    )
    claimed = []
    for message_id in _claim_ids(due, limit):
        # Push the next look a grace period ahead, so one sweep queues a message once.
        if OutboxMessage.objects.filter(
            pk=message_id, status=OutboxStatus.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + stall_after):
            claimed.append(message_id)
    return claimed


def _queue(ids: list[int], one: Any, many: Any, size: int) -> None:
    if len(ids) == 1:
        one.delay(ids[0])
        return
    for start in range(0, len(ids), size):
        many.delay(ids[start : start + size])


def sweep(
    now: datetime | None = None, *, stall_after: timedelta | None = None, limit: int = 500
) -> dict[str, int]:
    """What beat runs every few seconds: wake due waits and retries, notice decided approvals,
    re-queue work whose task was lost with a worker or a broker, and due outbox messages."""
    from heedful.workflows.events import MATCH_BATCH
    from heedful.workflows.tasks import (
        advance_run_task,
        advance_runs_task,
        deliver_outbox_batch_task,
        deliver_outbox_task,
        match_event_task,
        match_events_task,
    )

    now = now or timezone.now()
    stall_after = stall_after or timedelta(seconds=getattr(settings, "WORKFLOWS_STALL_SECONDS", 120))
    with transaction.atomic():
        runs = _wake_due_runs(now, limit) + _wake_decided_approvals(now, limit)
        stalled = _requeue_stalled_runs(now, stall_after, limit)
        messages = _due_outbox(now, stall_after, limit)
        events = _requeue_unmatched_events(now, stall_after, limit)
    # Many at once (a backlog after an outage, a campaign whose tasks were lost) go in the
    # batch tasks, so they take the set-based paths (bulk.py) rather than one task each.
    _queue(runs + stalled, advance_run_task, advance_runs_task, RUN_BATCH)
    _queue(events, match_event_task, match_events_task, MATCH_BATCH)
    _queue(messages, deliver_outbox_task, deliver_outbox_batch_task, DELIVERY_BATCH)
    return {"runs": len(runs), "stalled": len(stalled), "events": len(events), "outbox": len(messages)}
