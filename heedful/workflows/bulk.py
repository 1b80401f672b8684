"""Many runs at the same action step, advanced together: a campaign in a few queries per batch.

A thousand ``customer.onboarded`` events start a thousand runs whose first step sends an
email. One by one, each run costs some fifty queries at that step (its decision record, its
proposal read five times, its audit events, its outbox row, its timeline entry …). Here the
runs of a batch that stand at the same action step of the same workflow version take it
together: their decision records, proposals, outbox rows, timeline entries, audit events and
step log rows are each written with one statement, and the runs with one more.

What each run gets is what the one-by-one path gives it (``heedful/workflows/tests/
test_bulk.py`` compares the rows): its own decision record with the same factors and words,
its own proposal (run at once under an ``auto`` policy, waiting in the approval queue under
``ask``), its idempotency keys per run, step and attempt, its email in the outbox and nowhere
else. A run whose parameters cannot be rendered or built fails alone, with its error.

Everything else (conditions, waits, a run resuming after an approval, a step alone at its
place in the batch) goes through the one-by-one engine, inside the same transaction; such a
run stops before its next action step, so that it may take it with the others in the next
round. The caller (``services.advance_runs``) holds the transaction: the whole batch commits
or rolls back together, and the runs are locked in id order first.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from heedful.db_bulk import insert_each, update_each
from heedful.governance import bulk as trust_bulk
from heedful.workflows import crm_bridge
from heedful.workflows.actions import APPROVAL_EXPIRES_IN, WORKFLOW_ACTIONS, Built
from heedful.workflows.engine import (
    RUN_FIELDS,
    STEPS_PER_TRANSACTION,
    Known,
    StepContext,
    StepFailure,
    Writes,
    _run_locked,
    _settle,
    _values,
    applied,
    built_action,
    decision_for,
    failed,
    initial_context,
    mentions_contact,
    opened_from,
    proposal_draft,
    subject_dict,
    values_for,
)
from heedful.workflows.expressions import evaluate_all
from heedful.workflows.models import (
    ACTIVE_RUN_STATUSES,
    Consideration,
    Event,
    RunStatus,
    StepRun,
    StepStatus,
    WorkflowDefinition,
    WorkflowRun,
)
from heedful.workflows.services import _match_locked, _wake_waiting_for, consider, new_run

log = logging.getLogger(__name__)

# Fewer runs than this at one step go one by one: a bulk statement for one row gains nothing.
TOGETHER_AT_LEAST = 2


def advance_many(run_ids: list[int], max_steps: int = 50) -> tuple[int, list[int]]:
    """Run steps until each run waits, ends or ran ``max_steps``; inside the caller's transaction.

    Returns the steps run and the runs still running after their ``max_steps``, for another
    task (a long run yields the worker, as ``engine.advance_run`` does).
    """
    runs = list(
        WorkflowRun.objects.select_for_update(of=("self",))
        .select_related("workflow", "version", "wake_event")
        .filter(pk__in=run_ids, status=RunStatus.RUNNING)
        .order_by("pk")
    )
    left = {run.pk: max_steps for run in runs}
    ran = 0
    unfinished: list[int] = []
    while runs:
        together = len(runs) >= TOGETHER_AT_LEAST
        groups, alone = _at_the_same_action(runs) if together else ([], runs)
        for members, attempts in groups:
            ran += _take_step_together(members, attempts)
            for run in members:
                left[run.pk] -= 1
        # The others go one by one through the engine, with what each needs looked up for all
        # at once, and their rows written together.
        writes = Writes()
        known = _known(alone)
        for run in alone:
            steps = _run_locked(
                run,
                min(STEPS_PER_TRANSACTION, left[run.pk]),
                stop_before_effects=together,
                writes=writes,
                known=known[run.pk],
            )
            writes.runs.append(run)
            ran += steps
            left[run.pk] -= max(steps, 1)
        writes.flush()
        going = [run for run in runs if run.status == RunStatus.RUNNING]
        unfinished.extend(run.pk for run in going if left[run.pk] <= 0)
        runs = [run for run in going if left[run.pk] > 0]
    return ran, unfinished


def _known(runs: list[WorkflowRun]) -> dict[int, Known]:
    """Each run's contact (when its steps read it) and the open step at its cursor, as
    ``engine._run_locked`` would look them up one by one, in two queries for all."""
    reading = {
        r.pk for r in runs if r.subject_type == "contact" and mentions_contact(r.version.definition["steps"])
    }
    contacts = crm_bridge.contact_contexts(r.subject_id for r in runs if r.pk in reading)
    at: dict[int, str] = {}
    for run in runs:
        steps = run.version.definition["steps"]
        if run.cursor < len(steps):
            at[run.pk] = steps[run.cursor]["id"]
    latest: dict[int, StepRun] = {}
    if at:
        for row in StepRun.objects.filter(run_id__in=list(at), step_id__in=set(at.values())):
            if row.step_id == at[row.run_id] and (
                row.run_id not in latest or row.attempt > latest[row.run_id].attempt
            ):
                latest[row.run_id] = row
    known = {}
    for run in runs:
        contact = None
        if run.subject_type == "contact":
            contact = contacts.get(run.subject_id, {}) if run.pk in reading else {}
        known[run.pk] = Known(contact=contact, opened=opened_from(latest.get(run.pk)))
    return known


_Group = tuple[list[WorkflowRun], dict[int, int]]


def _at_the_same_action(runs: list[WorkflowRun]) -> tuple[list[_Group], list[WorkflowRun]]:
    """Split the runs into groups standing at the same fresh action step (with each run's attempt
    number there), and the rest."""
    at: dict[tuple[int, int], list[WorkflowRun]] = defaultdict(list)
    alone = []
    for run in runs:
        steps = run.version.definition["steps"]
        if run.cursor < len(steps) and steps[run.cursor]["type"] == "action":
            at[(run.version_id, run.cursor)].append(run)
        else:
            alone.append(run)
    groups = []
    for members in at.values():
        if len(members) < TOGETHER_AT_LEAST:
            alone.extend(members)
            continue
        fresh, resuming, attempts = _split_resuming(members)
        alone.extend(resuming)
        if fresh:
            groups.append((fresh, attempts))
    return groups, alone


def _split_resuming(
    members: list[WorkflowRun],
) -> tuple[list[WorkflowRun], list[WorkflowRun], dict[int, int]]:
    """Runs that waited at this step (for an approval) resume one by one; attempts for the rest."""
    step_id = members[0].version.definition["steps"][members[0].cursor]["id"]
    latest: dict[int, tuple[int, str]] = {}
    for run_id, attempt, status in StepRun.objects.filter(
        run_id__in=[r.pk for r in members], step_id=step_id
    ).values_list("run_id", "attempt", "status"):
        if run_id not in latest or attempt > latest[run_id][0]:
            latest[run_id] = (attempt, status)
    fresh, resuming, attempts = [], [], {}
    for run in members:
        attempt, status = latest.get(run.pk, (0, ""))
        if status == StepStatus.WAITING:
            resuming.append(run)
        else:
            attempts[run.pk] = attempt + 1
            fresh.append(run)
    return fresh, resuming, attempts


def _take_step_together(members: list[WorkflowRun], attempts: dict[int, int]) -> int:
    """The action step at the members' cursor, for all of them: returns how many ran it."""
    first = members[0]
    steps: list[dict[str, Any]] = first.version.definition["steps"]
    step = steps[first.cursor]
    spec = WORKFLOW_ACTIONS[step["action"]]
    contacts = crm_bridge.contact_contexts(r.subject_id for r in members if r.subject_type == "contact")
    logged: list[StepRun] = []
    proposing: dict[str, list[tuple[StepContext, Built]]] = defaultdict(list)
    for run in members:
        contact = contacts.get(run.subject_id, {}) if run.subject_type == "contact" else None
        sc = StepContext(run, step, run.cursor, attempts[run.pk], _values(run, contact), timezone.now(), None)
        try:
            built = built_action(sc)
        except StepFailure as exc:
            logged.append(failed(run, sc, str(exc), retryable=exc.retryable))
            continue
        except Exception as exc:  # a bug in a builder: retried with backoff, as one by one
            log.exception("workflow run %s step %s failed", run.pk, step["id"])
            logged.append(failed(run, sc, f"{type(exc).__name__}: {exc}", retryable=True))
            continue
        proposing[built.action_type].append((sc, built))
    for action_type, items in proposing.items():
        decisions = trust_bulk.record_decisions(
            [
                decision_for(
                    sc, action_type=action_type, params=built.params, summary=built.summary, commit=False
                )
                for sc, built in items
            ]
        )
        proposals = trust_bulk.propose_actions(
            action_type=action_type,
            drafts=[
                proposal_draft(sc, params=built.params, summary=built.summary, decision=decision)
                for (sc, built), decision in zip(items, decisions, strict=True)
            ],
            proposed_by=f"workflow:{first.workflow.slug}",
            expires_in=APPROVAL_EXPIRES_IN,
        )
        for (sc, _built), proposal in zip(items, proposals, strict=True):
            try:
                result = _settle(sc, proposal, on_reject=step.get("on_reject", "next"), what=str(spec.label))
            except StepFailure as exc:
                logged.append(failed(sc.run, sc, str(exc), retryable=exc.retryable))
                continue
            logged.append(applied(sc.run, sc, result, steps))
    insert_each(logged)
    update_each(members, RUN_FIELDS)
    return len(members)


# --- Matching many events ------------------------------------------------------------------


def match_many(event_ids: list[int]) -> list[int]:
    """``services._match_locked`` for each event, in a few queries; inside the caller's transaction.

    Returns the runs started and woken. Each workflow listening leaves its ``Consideration``
    on each event, with the same words as one by one. Two events of the batch about the same
    subject for a workflow with a re-entry rule are the exception: the later one is considered
    on its own once the earlier one's run exists, so the rule sees it.
    """
    events = list(
        Event.objects.select_for_update().filter(pk__in=event_ids, matched_at__isnull=True).order_by("pk")
    )
    if not events:
        return []
    listening: dict[str, list[WorkflowDefinition]] = defaultdict(list)
    for workflow in WorkflowDefinition.objects.filter(
        trigger_event__in={e.name for e in events}
    ).select_related("current_version"):
        listening[workflow.trigger_event].append(workflow)
    pairs = _unconsidered(events, listening)
    try:
        # A savepoint: a matcher racing on the same subjects' once/active keys wins, and this
        # batch is then matched one event at a time, which tells who won.
        with transaction.atomic():
            started, later = _consider_together(pairs)
    except IntegrityError:
        return [run_id for event in events for run_id in _match_locked(event.pk)]
    for event, workflow in later:
        _consideration, run = consider(workflow, event)
        if run is not None:
            started.append(run.pk)
    waited_for = set(
        WorkflowRun.objects.filter(status=RunStatus.WAITING, waiting_event__in={e.name for e in events})
        .values_list("waiting_event", flat=True)
        .distinct()
    )
    woken = [run_id for event in events if event.name in waited_for for run_id in _wake_waiting_for(event)]
    Event.objects.filter(pk__in=[e.pk for e in events]).update(matched_at=timezone.now())
    return started + woken


_Pair = tuple[Event, WorkflowDefinition]


def _unconsidered(events: list[Event], listening: dict[str, list[WorkflowDefinition]]) -> list[_Pair]:
    workflows = [w for ws in listening.values() for w in ws]
    done = set(
        Consideration.objects.filter(event__in=events, workflow__in=workflows).values_list(
            "event_id", "workflow_id"
        )
    )
    return [(e, w) for e in events for w in listening[e.name] if (e.pk, w.pk) not in done]


def _consider_together(pairs: list[_Pair]) -> tuple[list[int], list[_Pair]]:
    """Verdicts for the pairs; returns the runs started and the pairs left to ``consider``."""
    contacts = crm_bridge.contact_contexts(
        e.subject_id for e, w in pairs if e.subject_type == "contact" and _trigger_reads_contact(w)
    )
    earlier = _earlier_runs(pairs)
    seen: set[tuple[int, str, str]] = set()
    later: list[_Pair] = []
    skipped: list[Consideration] = []
    starting: list[tuple[WorkflowRun, Consideration]] = []
    for event, workflow in pairs:
        version = workflow.current_version
        verdict = Consideration(event=event, workflow=workflow, version=version)
        if version is None or not workflow.enabled:
            verdict.reason = "The workflow has no saved version" if version is None else "The workflow is off"
            skipped.append(verdict)
            continue
        trigger = version.definition["trigger"]
        values = values_for(
            context=initial_context(event),
            subject=subject_dict(event.subject_type, event.subject_id, event.subject_label),
            workflow={"slug": workflow.slug, "name": workflow.name},
            run_id=None,
            contact_now=(
                (contacts.get(event.subject_id, {}) if _trigger_reads_contact(workflow) else {})
                if event.subject_type == "contact"
                else None
            ),
        )
        passed, evaluations = evaluate_all(trigger.get("conditions", []), values, trigger.get("match", "all"))
        verdict.details = [e.as_dict() for e in evaluations]
        if not passed:
            failing = "; ".join(e.text for e in evaluations if not e.passed)
            verdict.reason = f"Conditions not met: {failing}"[:300]
            skipped.append(verdict)
            continue
        reentry = trigger.get("reentry", "always")
        key = (workflow.pk, event.subject_type, event.subject_id)
        limited = reentry != "always" and bool(event.subject_type)
        if limited and key in seen:
            later.append((event, workflow))
            continue
        seen.add(key)
        why_not = _reentry_refusal(reentry, event, earlier.get(key)) if limited else ""
        if why_not:
            verdict.reason = why_not[:300]
            skipped.append(verdict)
            continue
        starting.append((new_run(event, workflow, version, reentry, verdict.details), verdict))
    runs = [run for run, _verdict in starting]
    insert_each(runs)
    for run, verdict in starting:
        verdict.started = True
        verdict.reason = f"Started run #{run.pk}"
        verdict.run = run
    insert_each(skipped + [verdict for _run, verdict in starting])
    return [run.pk for run in runs], later


def _trigger_reads_contact(workflow: WorkflowDefinition) -> bool:
    version = workflow.current_version
    return version is not None and mentions_contact(version.definition["trigger"].get("conditions", []))


def _earlier_runs(pairs: list[_Pair]) -> dict[tuple[int, str, str], tuple[int | None, int | None]]:
    """For workflows with a re-entry rule: per (workflow, subject), its first run and its latest
    active one, as ``consider`` finds them."""
    limited = {
        w.pk
        for _e, w in pairs
        if w.current_version is not None
        and w.current_version.definition["trigger"].get("reentry", "always") != "always"
    }
    subjects = {e.subject_id for e, w in pairs if w.pk in limited and e.subject_type}
    if not limited or not subjects:
        return {}
    rows = (
        WorkflowRun.objects.filter(workflow_id__in=limited, subject_id__in=subjects)
        .order_by("pk")
        .values_list("pk", "workflow_id", "subject_type", "subject_id", "status", "started_at")
    )
    first: dict[tuple[int, str, str], int] = {}
    active: dict[tuple[int, str, str], tuple[Any, int]] = {}
    for pk, workflow_id, subject_type, subject_id, status, started_at in rows:
        key = (workflow_id, subject_type, subject_id)
        first.setdefault(key, pk)
        # consider() names the most recently started active run.
        if status in ACTIVE_RUN_STATUSES and (key not in active or (started_at, pk) > active[key]):
            active[key] = (started_at, pk)
    return {key: (pk, active[key][1] if key in active else None) for key, pk in first.items()}


def _reentry_refusal(reentry: str, event: Event, earlier: tuple[int | None, int | None] | None) -> str:
    first, active = earlier or (None, None)
    if reentry == "once_per_subject" and first is not None:
        return f"Runs once per {event.subject_type}, and run #{first} already did"
    if reentry == "not_while_active" and active is not None:
        return f"Run #{active} for this {event.subject_type} is still going"
    return ""
