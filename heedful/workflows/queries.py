"""Reads for the workflow pages: the list with run counts, run logs, the event log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet

from heedful.workflows.models import (
    Consideration,
    Event,
    RunStatus,
    StepRun,
    WorkflowDefinition,
    WorkflowRun,
)


def workflows_with_counts() -> QuerySet[WorkflowDefinition]:
    """Every workflow with its run counts by state, in one query."""
    return WorkflowDefinition.objects.select_related("current_version").annotate(
        runs_total=Count("runs"),
        runs_active=Count(
            "runs", filter=Q(runs__status__in=(RunStatus.RUNNING, RunStatus.WAITING, RunStatus.RETRYING))
        ),
        runs_completed=Count("runs", filter=Q(runs__status__in=(RunStatus.COMPLETED, RunStatus.STOPPED))),
        runs_failed=Count("runs", filter=Q(runs__status=RunStatus.FAILED)),
    )


def workflow_runs(
    workflow: WorkflowDefinition, *, status: str = "", about: str = ""
) -> QuerySet[WorkflowRun]:
    """The workflow's runs, newest first, optionally in one state or about someone."""
    runs = workflow.runs.select_related("version", "event")
    if status in RunStatus.values:
        runs = runs.filter(status=status)
    if about.strip():
        runs = runs.filter(subject_label__icontains=about.strip())
    return runs.order_by("-started_at", "-id")


def step_log(run: WorkflowRun) -> list[StepRun]:
    return list(run.step_runs.order_by("started_at", "id"))


@dataclass
class EventRow:
    event: Event
    considerations: list[Consideration] = field(default_factory=list)
    # Workflows that listen for this event but left no verdict, with the reason.
    unconsidered: list[tuple[WorkflowDefinition, str]] = field(default_factory=list)
    woke_runs: list[int] = field(default_factory=list)


def logged_events(*, name: str = "", workflow_id: int | None = None, about: str = "") -> QuerySet[Event]:
    """Events for the event log, newest first: of one name, one workflow's, or about someone."""
    events = Event.objects.order_by("-occurred_at", "-id")
    if name:
        events = events.filter(name=name)
    if about.strip():
        events = events.filter(subject_label__icontains=about.strip())
    if workflow_id is not None:
        listened = (
            WorkflowDefinition.objects.filter(pk=workflow_id).values_list("trigger_event", flat=True).first()
        )
        events = events.filter(Q(name=listened) | Q(considerations__workflow_id=workflow_id)).distinct()
    return events


def event_log(*, name: str = "", workflow_id: int | None = None, limit: int = 50) -> list[EventRow]:
    """Recent events and, for each, which workflows considered it and why each skipped."""
    return explain_events(list(logged_events(name=name, workflow_id=workflow_id)[:limit]))


def explain_events(events: Sequence[Event]) -> list[EventRow]:
    """For each event, which workflows considered it and why each skipped (one page's worth)."""
    rows = [EventRow(event) for event in events]
    by_id = {row.event.pk: row for row in rows}
    verdicts = Consideration.objects.filter(event_id__in=by_id).select_related("workflow", "version", "run")
    for consideration in verdicts.order_by("workflow__name"):
        by_id[consideration.event_id].considerations.append(consideration)
    listeners: dict[str, list[WorkflowDefinition]] = {}
    for workflow in WorkflowDefinition.objects.exclude(trigger_event=""):
        listeners.setdefault(workflow.trigger_event, []).append(workflow)
    for row in rows:
        seen = {c.workflow_id for c in row.considerations}
        for workflow in listeners.get(row.event.name, []):
            if workflow.pk not in seen:
                row.unconsidered.append((workflow, _why_not_considered(workflow, row.event)))
    return rows


def _why_not_considered(workflow: WorkflowDefinition, event: Event) -> str:
    if workflow.created_at > event.occurred_at:
        return "The workflow was created after this event"
    if event.matched_at is None:
        return "Not looked at yet: the worker has not picked the event up (is it running?)"
    return "The workflow listened for another event when this one came"


def listened_events() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for trigger, wf_name in WorkflowDefinition.objects.values_list("trigger_event", "name"):
        names.setdefault(trigger, []).append(wf_name)
    return names


def run_summary(run: WorkflowRun) -> dict[str, Any]:
    because = run.started_because or {}
    return {"summary": because.get("summary", ""), "conditions": because.get("conditions", [])}
