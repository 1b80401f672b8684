"""What workflows hold about a person, for ``crm.erasure.erase_contact`` (promise 4).

Events about a contact carry their name and address in the payload, runs copy the event into
their context, step logs and outbox emails repeat it. Erasing keeps the rows (the event log
still shows that a workflow ran and why it went the way it did, the run counts stay right) but
empties everything in them that could name the person, and stops what was still to come: a
waiting run is cancelled and an email not sent yet never goes out. The audit events about the
runs (a run started or cancelled by hand) are redacted like the rest of the person's.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from heedful.crm.erasure import AUDIT_EVENTS_REDACTED
from heedful.governance.services import redact_audit_events
from heedful.workflows.models import (
    Consideration,
    Event,
    OutboxMessage,
    OutboxStatus,
    RunStatus,
    StepRun,
    WorkflowRun,
)

ERASED_LABEL = "(erased)"
ERASED = {"erased": True}
_STILL_GOING = (RunStatus.RUNNING, RunStatus.WAITING, RunStatus.RETRYING)


def _events_of(contact: Any) -> Any:
    about = Q(subject_type="contact", subject_id=str(contact.pk))
    if contact.email:
        # Events about something else (an order, a conversation) that name the person.
        about |= Q(payload__contact__email=contact.email) | Q(payload__email=contact.email)
    return Event.objects.filter(about)


def erase_person(contact: Any, *, dry_run: bool) -> dict[str, int]:
    events = _events_of(contact)
    event_ids = list(events.values_list("pk", flat=True))
    runs = WorkflowRun.objects.filter(
        Q(subject_type="contact", subject_id=str(contact.pk)) | Q(event_id__in=event_ids)
    )
    run_ids = list(runs.values_list("pk", flat=True))
    going = runs.filter(status__in=_STILL_GOING)
    outbox = OutboxMessage.objects.filter(run_id__in=run_ids)
    unsent = outbox.exclude(status=OutboxStatus.SENT)
    counts = {
        "workflows.events": len(event_ids),
        "workflows.runs": len(run_ids),
        "workflows.runs_cancelled": going.count(),
        "workflows.emails": outbox.count(),
        "workflows.emails_not_sent": unsent.count(),
        AUDIT_EVENTS_REDACTED: redact_audit_events(
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
    runs.update(context=ERASED, subject_label=ERASED_LABEL)
    StepRun.objects.filter(run_id__in=run_ids).update(
        detail=ERASED, explanation="Erased with the person it was about.", error=""
    )
    # Failed, not deleted: a delivery task already queued finds the row, sees it is not due
    # and sends nothing; the outbox page shows why.
    unsent.update(
        status=OutboxStatus.FAILED, last_error="Not sent: the person was erased.", locked_until=None
    )
    outbox.update(payload=ERASED)
    Consideration.objects.filter(event_id__in=event_ids).update(details=[])
    events.update(payload=ERASED, subject_label=ERASED_LABEL)
    return counts
