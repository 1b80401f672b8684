"""What workflows hold about a person, for ``crm.erasure.erase_contact`` (promise 4).

Events about a contact carry their name and address in the payload, runs copy the event into
their context, step logs, tasks and outbox emails repeat it. The person's events are those
about any object the apps found about them (``subjects``: the contact, their conversations and
orders, so also a chat conversation with no contact, labelled with what the visitor typed) and
those naming their address. Erasing keeps the rows (the event log still shows that a workflow
ran and whether it started, the run counts stay right) but empties everything in them that
could name the person, and stops what was still to come: a waiting run is cancelled and an
email not sent yet never goes out. The audit events about the runs (a run started or cancelled
by hand) are redacted like the rest of the person's, and the decisions and proposals the runs
made are scrubbed (``forget_subjects``, ``forget_records``); about an object that is not the
person's (an event naming her about a company), only what her runs made is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from heedful.crm.erasure import AUDIT_EVENTS_REDACTED, add_counts, forget_records, forget_subjects
from heedful.governance.models import ActorKind, DecisionRecord, ProposedAction
from heedful.governance.services import redact_audit_events
from heedful.workflows.models import (
    Consideration,
    Event,
    OutboxMessage,
    OutboxStatus,
    RunStatus,
    StepRun,
    WorkflowRun,
    WorkflowTask,
)

ERASED_LABEL = "(erased)"
ERASED = {"erased": True}
_STILL_GOING = (RunStatus.RUNNING, RunStatus.WAITING, RunStatus.RETRYING)


def _about(subjects: Mapping[str, Sequence[str]]) -> Q:
    """Rows whose subject is one of the person's objects (``subject_type``/``subject_id``)."""
    about = Q(pk__in=[])
    for kind, ids in subjects.items():
        about |= Q(subject_type=kind, subject_id__in=list(ids))
    return about


def _events_of(contact: Any, subjects: Mapping[str, Sequence[str]]) -> QuerySet[Event]:
    # About the contact, their conversations, their orders; a conversation without a contact
    # (a chat visitor who only typed their address) has its label in the event.
    about = _about(subjects)
    if contact.email:
        # Events about something else that name the person.
        about |= Q(payload__contact__email=contact.email) | Q(payload__email=contact.email)
    return Event.objects.filter(about)


def _forget_run_records(
    runs: QuerySet[WorkflowRun],
    events: QuerySet[Event],
    subjects: Mapping[str, Sequence[str]],
    *,
    dry_run: bool,
) -> dict[str, int]:
    """Scrub the decisions and proposals about the person's runs, and those the runs made.

    A run decides and proposes about the run's subject. The other erasers already forget the
    person's own objects (``subjects``: all their records go); about any other object (a company
    that an event naming her was about) only what her runs made is forgotten: the object's other
    records (another contact's run, a person's own decision) never named her and stay.
    """
    run_ids = list(runs.values_list("pk", flat=True))
    counts = forget_subjects(
        subject_type=WorkflowRun._meta.model_name or "", subject_ids=run_ids, app="workflows", dry_run=dry_run
    )
    known = {(kind, str(i)) for kind, ids in subjects.items() for i in ids}
    others = {
        (kind, pk)
        for rows in (runs, events)
        for kind, pk in rows.exclude(subject_type="").values_list("subject_type", "subject_id").distinct()
        if (kind, pk) not in known
    }
    decisions: list[int] = []
    for kind, pk in sorted(others):
        decisions += DecisionRecord.objects.filter(
            subject_type=kind,
            subject_id=pk,
            actor_kind=ActorKind.WORKFLOW,
            inputs__run_id__in=run_ids,  # engine.decision_for records the run
        ).values_list("pk", flat=True)
    proposals = list(ProposedAction.objects.filter(decision_id__in=decisions).values_list("pk", flat=True))
    made = forget_records(decision_ids=decisions, proposal_ids=proposals, app="workflows", dry_run=dry_run)
    add_counts(counts, made)
    return counts


def erase_person(contact: Any, *, dry_run: bool, subjects: Mapping[str, Sequence[str]]) -> dict[str, int]:
    events = _events_of(contact, subjects)
    event_ids = list(events.values_list("pk", flat=True))
    runs = WorkflowRun.objects.filter(_about(subjects) | Q(event_id__in=event_ids))
    run_ids = list(runs.values_list("pk", flat=True))
    going_ids = list(runs.filter(status__in=_STILL_GOING).values_list("pk", flat=True))
    going = WorkflowRun.objects.filter(pk__in=going_ids)
    outbox = OutboxMessage.objects.filter(run_id__in=run_ids)
    unsent = outbox.exclude(status=OutboxStatus.SENT)
    tasks = WorkflowTask.objects.filter(_about(subjects) | Q(run_id__in=run_ids))
    forgotten = _forget_run_records(runs, events, subjects, dry_run=dry_run)
    counts = {
        "workflows.events": len(event_ids),
        "workflows.runs": len(run_ids),
        "workflows.runs_cancelled": len(going_ids),
        "workflows.emails": outbox.count(),
        "workflows.emails_not_sent": unsent.count(),
        "workflows.tasks": tasks.count(),
        **forgotten,
        AUDIT_EVENTS_REDACTED: forgotten.get(AUDIT_EVENTS_REDACTED, 0)
        + redact_audit_events(
            object_type=WorkflowRun._meta.model_name or "", object_ids=run_ids, dry_run=dry_run
        ),
    }
    if dry_run:
        return counts
    now = timezone.now()
    going.update(
        status=RunStatus.CANCELLED,
        error="Cancelled: the person it was about was erased.",
        finished_at=now,
        touched_at=now,
        active_key=None,
        wake_at=None,
        waiting_event="",
        wait_match={},
        waiting_proposal_id=None,
    )
    # Why it started (the conditions' actual values) and an error ("550 rosa@… unknown") name
    # the person as well as the context does; the cancellation just written is kept.
    runs.exclude(pk__in=going_ids).exclude(error="").update(error=ERASED_LABEL)
    runs.update(context=ERASED, started_because=ERASED, wait_match={}, subject_label=ERASED_LABEL)
    StepRun.objects.filter(run_id__in=run_ids).update(
        detail=ERASED, explanation="Erased with the person it was about.", error=""
    )
    # Failed, not deleted: a delivery task already queued finds the row, sees it is not due
    # and sends nothing; the outbox page shows why.
    unsent.update(
        status=OutboxStatus.FAILED, last_error="Not sent: the person was erased.", locked_until=None
    )
    outbox.exclude(last_error="").filter(status=OutboxStatus.SENT).update(last_error=ERASED_LABEL)
    outbox.update(payload=ERASED)
    # A start says "Started run #3"; a skip may quote the values that failed its conditions.
    considered = Consideration.objects.filter(event_id__in=event_ids)
    considered.filter(started=False).update(reason=ERASED_LABEL)
    considered.update(details=[])
    tasks.update(title=ERASED_LABEL, notes="", subject_label=ERASED_LABEL)
    # By id: the payload that found some of them is about to go.
    Event.objects.filter(pk__in=event_ids).update(payload=ERASED, subject_label=ERASED_LABEL)
    return counts
