"""Running one step of a run, durably.

Each step runs in one database transaction together with everything it writes: the
step's log row, the decision record, the proposed action (executed inline when the
policy says ``auto``), outbox rows, and the run's new cursor. The run row is locked
first (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions already
serialise writers), and the step only runs if the run is still ``running`` at that
cursor. So a worker killed half-way rolls the whole step back, and a second worker
handed the same run waits, then finds the step done and moves on: nothing happens
twice, nothing is lost.

Steps never talk to the network; email and webhooks leave through the outbox.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from heedful.db_bulk import insert_each, update_each
from heedful.governance import services as trust
from heedful.governance.actions import ActionError
from heedful.governance.bulk import Draft
from heedful.governance.models import ActorKind, DecisionRecord, ProposalStatus, ProposedAction
from heedful.workflows import crm_bridge
from heedful.workflows.actions import APPROVAL_EXPIRES_IN, WORKFLOW_ACTIONS, Built
from heedful.workflows.definition import jump_index, retry_policy
from heedful.workflows.expressions import (
    MISSING,
    MissingValueError,
    describe_duration,
    evaluate_all,
    parse_duration,
    render,
    render_params,
    render_value,
    resolve,
)
from heedful.workflows.models import (
    Event,
    RunStatus,
    StepRun,
    StepStatus,
    WorkflowRun,
)

log = logging.getLogger(__name__)


class StepFailure(Exception):
    """The step could not run. ``retryable`` failures are tried again with backoff."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass
class StepResult:
    status: str  # "done" or "waiting"
    explanation: str
    # Where the run goes after a done step: "next", "stop" or a step id.
    goto: str = "next"
    stop_reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    wake_at: datetime | None = None
    waiting_event: str = ""
    wait_match: dict[str, Any] = field(default_factory=dict)
    waiting_proposal_id: int | None = None
    decision_id: int | None = None
    proposal_id: int | None = None


@dataclass
class StepContext:
    run: WorkflowRun
    step: dict[str, Any]
    index: int
    attempt: int
    values: dict[str, Any]
    now: datetime
    open_step: StepRun | None

    @property
    def resuming(self) -> bool:
        return self.open_step is not None

    @property
    def opened(self) -> StepRun:
        """The waiting step run being resumed (only call when ``resuming``)."""
        if self.open_step is None:
            raise StepFailure("internal: this step is not waiting", retryable=False)
        return self.open_step


# --- The values a step sees ---------------------------------------------------------------


def subject_dict(type_: str, id_: str, label: str) -> dict[str, Any]:
    return {"type": type_, "id": id_, "label": label} if type_ else {}


def initial_context(event: Event | None, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a run remembers from its start: the event and who it is about."""
    if event is None:
        return {"event": dict(payload or {}), "event_name": "", "steps": {}}
    return {
        "event": event.payload,
        "event_name": event.name,
        "event_id": event.pk,
        "occurred_at": event.occurred_at.isoformat(),
        "steps": {},
    }


def values_for(
    *,
    context: dict[str, Any],
    subject: dict[str, Any],
    workflow: dict[str, Any],
    run_id: int | None,
    contact_now: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The names conditions and tokens can use: event, subject, contact, workflow, run, steps.

    ``contact`` is the contact as it is now (from crm) over what the event said about it,
    so a month-long journey writes to the address the customer has today.
    """
    contact = dict(context.get("event", {}).get("contact") or {})
    if subject.get("type") == "contact":
        contact.update(crm_bridge.contact_context(subject.get("id")) if contact_now is None else contact_now)
    return {
        "event": context.get("event", {}),
        "event_name": context.get("event_name", ""),
        "subject": subject,
        "contact": contact,
        "workflow": workflow,
        "run": {"id": run_id},
        "steps": context.get("steps", {}),
    }


def mentions_contact(part: Any) -> bool:
    """Whether conditions or steps may read ``contact``: they name it somewhere (a path, a token).

    When they do not, nothing reads the contact, and its lookup in crm is skipped (one query
    per matched event and per transaction of a run). An action or approval step always counts:
    an action may take the address or the name from the contact without naming it.
    """
    if isinstance(part, list) and any(
        isinstance(step, dict) and step.get("type") in ("action", "approval") for step in part
    ):
        return True
    return "contact" in json.dumps(part)


def _contact_now(run: WorkflowRun) -> dict[str, Any] | None:
    """The run's contact as crm has it now (None when the run is not about a contact; empty when
    its steps never read it)."""
    if run.subject_type != "contact":
        return None
    if not mentions_contact(run.version.definition["steps"]):
        return {}
    return crm_bridge.contact_context(run.subject_id)


def _values(run: WorkflowRun, contact: dict[str, Any] | None = None) -> dict[str, Any]:
    return values_for(
        context=run.context,
        subject=subject_dict(run.subject_type, run.subject_id, run.subject_label),
        workflow={"slug": run.workflow.slug, "name": run.workflow.name, "version": run.version.number},
        run_id=run.pk,
        contact_now=contact,
    )


# --- Step types ---------------------------------------------------------------------------


def _goto_words(target: str) -> str:
    return {"next": "go on to the next step", "stop": "stop the run"}.get(target, f"jump to step {target!r}")


def condition_step(sc: StepContext) -> StepResult:
    step = sc.step
    match = step.get("match", "all")
    passed, evaluations = evaluate_all(step["conditions"], sc.values, match)
    target = step.get("then", "next") if passed else step.get("else", "stop")
    quantifier = "All" if match == "all" else "At least one of the"
    verdict = "held" if passed else "did not hold"
    return StepResult(
        "done",
        f"{quantifier} conditions {verdict}, so {_goto_words(target)}.",
        goto=target,
        stop_reason=f"Condition {step['id']!r} was not met" if not passed else "",
        detail={"passed": passed, "evaluations": [e.as_dict() for e in evaluations]},
        outputs={"passed": passed},
    )


def stop_step(sc: StepContext) -> StepResult:
    reason = sc.step.get("reason") or "A stop step was reached"
    return StepResult("done", f"Stopped: {reason}.", goto="stop", stop_reason=reason)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is not None:
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    day: date | None = parse_date(value)
    if day is not None:
        return timezone.make_aware(datetime.combine(day, time(9, 0)))
    return None


def _find_event(name: str, run: WorkflowRun, match: dict[str, Any], since: datetime) -> Event | None:
    candidates = Event.objects.filter(name=name, occurred_at__gte=since).order_by("occurred_at", "pk")
    if match.get("same_subject", True):
        candidates = candidates.filter(subject_type=run.subject_type, subject_id=run.subject_id)
    for event in candidates[:200]:
        if event_matches(event.payload, match):
            return event
    return None


def event_matches(payload: dict[str, Any], match: dict[str, Any]) -> bool:
    wanted: dict[str, Any] = match.get("payload", {})
    return all(str(resolve(payload, path)) == str(value) for path, value in wanted.items())


def wait_step(sc: StepContext) -> StepResult:
    step = sc.step
    if "event" in step:
        return _wait_for_event(sc)
    if sc.resuming:
        # Only the sweep wakes a timed wait, and only once it is due.
        return StepResult("done", f"Waited until {sc.opened.detail.get('wake_at', '')[:16]} UTC.")
    if "duration" in step:
        wake_at = sc.now + parse_duration(step["duration"])
        words = f"Waiting {describe_duration(step['duration'])}, until {wake_at:%Y-%m-%d %H:%M} UTC."
    else:
        raw = resolve(sc.values, step["until"])
        base = _as_datetime(None if raw is MISSING else raw)
        if base is None:
            raise StepFailure(
                f"{step['until']} holds no date ({raw if raw is not MISSING else 'absent'}).", retryable=False
            )
        wake_at = base + (parse_duration(step["offset"]) if step.get("offset") else timedelta(0))
        if wake_at <= sc.now:
            return StepResult("done", f"{step['until']} ({base:%Y-%m-%d %H:%M}) has already passed; no wait.")
        words = f"Waiting until {wake_at:%Y-%m-%d %H:%M} UTC ({step['until']})."
    return StepResult("waiting", words, wake_at=wake_at, detail={"wake_at": wake_at.isoformat()})


def _wait_for_event(sc: StepContext) -> StepResult:
    step, run = sc.step, sc.run
    name = step["event"]
    on_event, on_timeout = step.get("on_event", "next"), step.get("on_timeout", "next")
    if sc.resuming:
        detail = sc.opened.detail
        event = run.wake_event if run.wake_event_id else None
        if event is not None and event.name == name and event_matches(event.payload, detail.get("match", {})):
            return StepResult(
                "done",
                f"{name} arrived at {event.occurred_at:%Y-%m-%d %H:%M} UTC (event #{event.pk}), "
                f"so {_goto_words(on_event)}.",
                goto=on_event,
                stop_reason=f"{name} arrived",
                detail={**detail, "event_id": event.pk, "outcome": "event"},
                outputs={"arrived": True, "event": event.payload},
            )
        # Not woken by the event, so by the sweep: the timeout is up.
        return StepResult(
            "done",
            f"No {name} within {describe_duration(step['timeout'])}, so {_goto_words(on_timeout)}.",
            goto=on_timeout,
            stop_reason=f"No {name} in time",
            detail={**detail, "outcome": "timeout"},
            outputs={"arrived": False},
        )
    payload_match = {path: render_value(value, sc.values) for path, value in step.get("match", {}).items()}
    match = {"same_subject": step.get("same_subject", bool(run.subject_type)), "payload": payload_match}
    # The event may have come while the earlier steps ran: look back to the previous step.
    since = (
        StepRun.objects.filter(run=run, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
        or run.started_at
    )
    early = _find_event(name, run, match, since)
    if early is not None:
        return StepResult(
            "done",
            f"{name} had already arrived (event #{early.pk}), so {_goto_words(on_event)}.",
            goto=on_event,
            detail={"event": name, "match": match, "event_id": early.pk, "outcome": "event"},
            outputs={"arrived": True, "event": early.payload},
        )
    timeout_at = sc.now + parse_duration(step["timeout"])
    return StepResult(
        "waiting",
        f"Waiting for {name} until {timeout_at:%Y-%m-%d %H:%M} UTC "
        f"(at most {describe_duration(step['timeout'])}).",
        wake_at=timeout_at,
        waiting_event=name,
        wait_match=match,
        detail={"event": name, "match": match, "wake_at": timeout_at.isoformat()},
    )


def _why_started(run: WorkflowRun) -> list[dict[str, Any]]:
    because = run.started_because or {}
    factors = [{"text": because.get("summary", "Started"), "weight": 1.0}]
    for evaluation in because.get("conditions", []):
        factors.append(
            {"text": evaluation.get("text", ""), "weight": 1.0 if evaluation.get("passed") else -1.0}
        )
    return factors


def decision_for(
    sc: StepContext, *, action_type: str, params: dict[str, Any], summary: str, commit: bool = True
) -> DecisionRecord:
    """The decision record of an action or approval step: what it proposes, and why the run is here."""
    run = sc.run
    return trust.record_decision(
        actor_kind=ActorKind.WORKFLOW,
        actor_name=run.workflow.slug,
        actor_version=f"v{run.version.number}",
        subject=trust.Subject(run.subject_type, run.subject_id, run.subject_label),
        inputs={"run_id": run.pk, "step": sc.step["id"], "event": run.context.get("event_name", "")},
        output={"action": action_type, "params": params},
        output_summary=summary,
        factors=[*_why_started(run), {"text": f"Step {sc.index + 1}: {sc.step['id']}", "weight": 0.0}],
        commit=commit,
    )


def proposal_draft(
    sc: StepContext, *, params: dict[str, Any], summary: str, decision: DecisionRecord
) -> Draft:
    """What the step proposes, keyed on run, step and attempt so that proposing twice is once."""
    run = sc.run
    return Draft(
        params=params,
        explanation=(
            f"Workflow “{run.workflow.name}” (v{run.version.number}), step {sc.step['id']!r}: {summary}"
        ),
        subject=trust.Subject(run.subject_type, run.subject_id, run.subject_label),
        decision=decision,
        idempotency_key=f"wf:{run.pk}:{sc.step['id']}:{sc.attempt}",
    )


def _propose(
    sc: StepContext,
    *,
    action_type: str,
    params: dict[str, Any],
    summary: str,
    expires_in: timedelta | None = None,
) -> ProposedAction:
    """Decision record + proposal (+ inline run when the policy allows): one per run, step and attempt."""
    run = sc.run
    decision = decision_for(sc, action_type=action_type, params=params, summary=summary)
    draft = proposal_draft(sc, params=params, summary=summary, decision=decision)
    proposal = trust.propose_action(
        action_type=action_type,
        params=params,
        explanation=draft.explanation,
        proposed_by=f"workflow:{run.workflow.slug}",
        subject=draft.subject,
        decision=draft.decision,
        expires_in=expires_in or APPROVAL_EXPIRES_IN,
        idempotency_key=draft.idempotency_key,
        # Run it here, in the step's transaction: the step and its effect commit together.
        run_inline=True,
    )
    return proposal


def _settle(sc: StepContext, proposal: ProposedAction, *, on_reject: str, what: str) -> StepResult:
    """Turn a proposal's state into the step's result."""
    detail = {"proposal_id": proposal.pk, "policy": proposal.policy_mode, "params": proposal.params}
    if proposal.status == ProposalStatus.DONE:
        summary = proposal.result.get("summary", "done")
        how = (
            "by policy (auto)"
            if proposal.policy_mode == "auto"
            else f"approved by {proposal.decided_by or 'a person'}"
        )
        return StepResult(
            "done",
            f"{what}: {summary} ({how}).",
            detail=detail,
            outputs={"done": True},
            proposal_id=proposal.pk,
            decision_id=proposal.decision_id,
        )
    if proposal.status in (ProposalStatus.PENDING, ProposalStatus.APPROVED):
        return StepResult(
            "waiting",
            f"{what}: waiting in the approval queue (#{proposal.pk}).",
            # No wake time: the sweep looks at the proposal itself, and approving wakes the run.
            waiting_proposal_id=proposal.pk,
            detail=detail,
            proposal_id=proposal.pk,
            decision_id=proposal.decision_id,
        )
    if proposal.status == ProposalStatus.FAILED:
        raise StepFailure(f"{what} failed: {proposal.error}", retryable=False)
    why = {
        ProposalStatus.BLOCKED: "the policy for this action is 'never'",
        ProposalStatus.REJECTED: f"rejected by {proposal.decided_by}: {proposal.decision_reason}",
        ProposalStatus.EXPIRED: "nobody decided in time",
        ProposalStatus.UNDONE: "it was undone",
    }.get(ProposalStatus(proposal.status), proposal.status)
    return StepResult(
        "done",
        f"{what}: not done, {why}; so {_goto_words(on_reject)}.",
        goto=on_reject,
        stop_reason=f"{what} not done: {why}",
        detail={**detail, "declined": True},
        outputs={"done": False},
        proposal_id=proposal.pk,
        decision_id=proposal.decision_id,
    )


def _open_proposal(sc: StepContext) -> ProposedAction:
    return ProposedAction.objects.select_related("decided_by").get(pk=sc.opened.proposal_id or 0)


def action_step(sc: StepContext) -> StepResult:
    step = sc.step
    spec = WORKFLOW_ACTIONS[step["action"]]
    on_reject = step.get("on_reject", "next")
    if sc.resuming:
        return _settle(sc, _open_proposal(sc), on_reject=on_reject, what=str(spec.label))
    built = built_action(sc)
    proposal = _propose(sc, action_type=built.action_type, params=built.params, summary=built.summary)
    return _settle(sc, proposal, on_reject=on_reject, what=str(spec.label))


def built_action(sc: StepContext) -> Built:
    """The action step's parameters rendered and built into what it proposes; StepFailure when
    they cannot be (a token without a value, no address to write to)."""
    step = sc.step
    try:
        params = render_params(step.get("params", {}), sc.values)
        return WORKFLOW_ACTIONS[step["action"]].build(params, sc.values)
    except (MissingValueError, ActionError) as exc:
        raise StepFailure(str(exc), retryable=False) from exc


def approval_step(sc: StepContext) -> StepResult:
    step = sc.step
    on_reject = step.get("on_reject", "stop")
    if sc.resuming:
        return _settle(sc, _open_proposal(sc), on_reject=on_reject, what="Approval")
    try:
        question = render(step["question"], sc.values)
    except MissingValueError as exc:
        raise StepFailure(str(exc), retryable=False) from exc
    expires = parse_duration(step["expires_in"]) if step.get("expires_in") else None
    proposal = _propose(
        sc,
        action_type="workflows.continue_run",
        params={"question": question, "workflow_run_id": sc.run.pk, "step_id": step["id"]},
        summary=question,
        expires_in=expires,
    )
    return _settle(sc, proposal, on_reject=on_reject, what="Approval")


STEP_TYPES = {
    "condition": condition_step,
    "stop": stop_step,
    "wait": wait_step,
    "action": action_step,
    "approval": approval_step,
}


# --- Running a run ------------------------------------------------------------------------


def _lock_run(run_id: int) -> WorkflowRun | None:
    return (
        WorkflowRun.objects.select_for_update(of=("self",))
        .select_related("workflow", "version", "wake_event")
        .filter(pk=run_id)
        .first()
    )


def finish_run(run: WorkflowRun, status: str, error: str = "") -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.touched_at = run.finished_at
    run.active_key = None
    run.wake_at = None
    run.waiting_event = ""
    run.waiting_proposal_id = None
    if error:
        run.error = error


# Steps without effects on the world (conditions, stops, a wait that is already over) share
# the run's transaction with the steps after them; an action or approval step commits before
# the next step starts, so its effect leaves (outbox, approval queue) without waiting for the
# rest of the run. A crash rolls back all the steps of the transaction together: they run
# again, and nothing was seen outside. Measured in benchmarks/workflows.py (steps/s).
STEPS_PER_TRANSACTION = 25
_COMMIT_AFTER = frozenset({"action", "approval"})
# Steps that only read: they write no rows of their own but their log row, which a run
# inserts together with the others of its transaction (one statement for ten conditions).
_PURE_STEPS = frozenset({"condition", "stop"})


# Everything stepping may change on a run row; a batch writes its runs with one UPDATE.
RUN_FIELDS = [
    "status",
    "cursor",
    "context",
    "wake_at",
    "waiting_event",
    "wait_match",
    "waiting_proposal_id",
    "wake_event",
    "attempts",
    "error",
    "touched_at",
    "finished_at",
    "active_key",
]


class Writes:
    """The rows a transaction's steps leave to be written together: the log rows of pure steps
    and, in a batch (bulk.py), the rows of the runs that went before.

    Written before any step with effects runs (it may read them: a wait looks back at the
    run's log) and at the end of the transaction; an exception rolls everything back, and
    the steps run again.
    """

    def __init__(self) -> None:
        self.rows: list[StepRun] = []
        self.runs: list[WorkflowRun] = []

    def flush(self) -> None:
        if self.rows:
            insert_each(self.rows)
            self.rows.clear()
        if self.runs:
            update_each(self.runs, RUN_FIELDS)
            self.runs.clear()


@dataclass
class Known:
    """What a batch looked up for a run's first step at once: its contact and its open step."""

    contact: dict[str, Any] | None
    opened: tuple[StepRun | None, int]


def step_once(run_id: int) -> bool:
    """Run the step at the run's cursor. True when the run can go straight on."""
    return run_steps(run_id, 1)[1]


def run_steps(run_id: int, limit: int = STEPS_PER_TRANSACTION) -> tuple[int, bool]:
    """Run up to ``limit`` steps in one transaction; returns (steps run, can go straight on)."""
    with transaction.atomic():
        run = _lock_run(run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return 0, False
        ran = _run_locked(run, limit)
        # One write of the run row per transaction, however the steps ended.
        run.save()
        return ran, run.status == RunStatus.RUNNING


def _run_locked(
    run: WorkflowRun,
    limit: int,
    *,
    stop_before_effects: bool = False,
    writes: Writes | None = None,
    known: Known | None = None,
) -> int:
    """Run the run's steps (locked by the caller); returns how many ran.

    With ``stop_before_effects`` the run halts at an action or approval step it reaches after
    its first, still ``running``, so a batch can take that step for many runs at once (bulk.py).
    A batch passes its ``writes`` (written when it says) and what it already ``known`` about
    the run (its contact, its open step), looked up for all its runs at once.
    """
    steps = run.version.definition["steps"]
    contact = known.contact if known is not None else _contact_now(run)
    own = writes or Writes()
    ran = _run_steps_of(run, steps, contact, limit, stop_before_effects, own, known)
    # Written once, whichever way the loop ended; an exception out of the loop rolls the
    # transaction back, and the steps run again.
    if writes is None:
        own.flush()
    return ran


def _run_steps_of(
    run: WorkflowRun,
    steps: list[dict[str, Any]],
    contact: dict[str, Any] | None,
    limit: int,
    stop_before_effects: bool,
    writes: Writes,
    known: Known | None,
) -> int:
    ran = 0
    while ran < limit:
        if run.cursor >= len(steps):
            finish_run(run, RunStatus.COMPLETED)
            return ran
        step = steps[run.cursor]
        if stop_before_effects and ran > 0 and step["type"] in _COMMIT_AFTER:
            return ran
        pure = step["type"] in _PURE_STEPS
        if not pure:
            # Keep the log rows in the order the steps ran: the earlier steps' rows first.
            writes.flush()
        if ran > 0:
            open_step, attempt = None, 1
        else:
            open_step, attempt = known.opened if known is not None else _open_step(run, step)
        sc = StepContext(run, step, run.cursor, attempt, _values(run, contact), timezone.now(), open_step)
        ran += 1
        try:
            # A step that writes something runs in a savepoint, so a failure leaves none of
            # its rows behind; a pure one has nothing to undo and skips the two statements.
            with contextlib.nullcontext() if pure else transaction.atomic():
                result = STEP_TYPES[step["type"]](sc)
        except DatabaseError:
            raise  # the database is the problem: let the task retry the whole transaction
        except StepFailure as exc:
            _record_failure(run, sc, str(exc), retryable=exc.retryable)
            return ran
        except Exception as exc:
            log.exception("workflow run %s step %s failed", run.pk, step["id"])
            _record_failure(run, sc, f"{type(exc).__name__}: {exc}", retryable=True)
            return ran
        step_run = applied(run, sc, result, steps)
        if pure and step_run.pk is None:
            writes.rows.append(step_run)
        else:
            step_run.save()
        if run.status != RunStatus.RUNNING or step["type"] in _COMMIT_AFTER:
            return ran
    return ran


def _open_step(run: WorkflowRun, step: dict[str, Any]) -> tuple[StepRun | None, int]:
    """The waiting step run to resume, and the attempt number.

    Only the first step of a transaction can have run before: the cursor only moves
    forward, so every later step in the same transaction is new.
    """
    previous = StepRun.objects.filter(run=run, step_id=step["id"]).order_by("-attempt").first()
    return opened_from(previous)


def opened_from(previous: StepRun | None) -> tuple[StepRun | None, int]:
    """The step run to resume (a waiting one) and the attempt number, from the latest attempt."""
    if previous is not None and previous.status == StepStatus.WAITING:
        return previous, previous.attempt
    return None, (previous.attempt + 1 if previous else 1)


def _apply(run: WorkflowRun, sc: StepContext, result: StepResult, steps: list[dict[str, Any]]) -> None:
    applied(run, sc, result, steps).save()


def applied(run: WorkflowRun, sc: StepContext, result: StepResult, steps: list[dict[str, Any]]) -> StepRun:
    """Move the run on by the step's result; returns the step's log row, not yet saved."""
    now = timezone.now()
    step_run = sc.open_step or StepRun(
        run=run, step_id=sc.step["id"], step_index=sc.index, step_type=sc.step["type"], attempt=sc.attempt
    )
    step_run.explanation = result.explanation
    step_run.detail = result.detail
    step_run.decision_id = result.decision_id or step_run.decision_id
    step_run.proposal_id = result.proposal_id or step_run.proposal_id
    run.wake_event = None
    if result.status == "waiting":
        step_run.status = StepStatus.WAITING
        run.status = RunStatus.WAITING
        run.wake_at = result.wake_at
        run.waiting_event = result.waiting_event
        run.wait_match = result.wait_match
        run.waiting_proposal_id = result.waiting_proposal_id
    else:
        step_run.status = StepStatus.DONE
        step_run.finished_at = now
        run.context.setdefault("steps", {})[sc.step["id"]] = result.outputs
        run.attempts = 0
        run.error = ""
        run.wake_at = None
        run.waiting_event = ""
        run.wait_match = {}
        run.waiting_proposal_id = None
        target = jump_index(result.goto, sc.index, steps)
        if target is None:
            finish_run(run, RunStatus.STOPPED)
            run.error = result.stop_reason
        elif target >= len(steps):
            run.cursor = target
            finish_run(run, RunStatus.COMPLETED)
        else:
            run.cursor = target
    run.touched_at = now
    return step_run


def _record_failure(run: WorkflowRun, sc: StepContext, message: str, *, retryable: bool) -> None:
    failed(run, sc, message, retryable=retryable).save()


def failed(run: WorkflowRun, sc: StepContext, message: str, *, retryable: bool) -> StepRun:
    """Log the failed attempt; retry with exponential backoff, or fail the run for a person to see.

    Returns the step's log row, not yet saved."""
    now = timezone.now()
    max_attempts, backoff = retry_policy(run.version.definition)
    run.attempts += 1
    step_run = sc.open_step or StepRun(
        run=run, step_id=sc.step["id"], step_index=sc.index, step_type=sc.step["type"], attempt=sc.attempt
    )
    step_run.status = StepStatus.FAILED
    step_run.error = message
    step_run.finished_at = now
    if retryable and run.attempts < max_attempts:
        delay = backoff * 2 ** (run.attempts - 1)
        run.status = RunStatus.RETRYING
        run.wake_at = now + timedelta(seconds=delay)
        run.error = f"{message} (attempt {run.attempts} of {max_attempts}; next try in {delay:.0f}s)"
        run.touched_at = now
    else:
        finish_run(run, RunStatus.FAILED, message)
    return step_run


def advance_run(run_id: int, max_steps: int = 50) -> int:
    """Run steps until the run waits, ends or ``max_steps`` ran; returns how many ran."""
    ran = 0
    while ran < max_steps:
        done, go_on = run_steps(run_id, min(STEPS_PER_TRANSACTION, max_steps - ran))
        ran += max(done, 1)
        if not go_on:
            return ran
    # A long run yields the worker to others and goes on in a fresh task.
    from heedful.workflows.tasks import advance_run_task

    transaction.on_commit(lambda: advance_run_task.delay(run_id))
    return ran
