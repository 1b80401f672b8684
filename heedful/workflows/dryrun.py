"""Dry run: what a (draft) workflow would have done with the events of the last N days.

Nothing is written and nothing is sent. The simulation walks the same steps with the
same condition evaluation and token rendering as the engine; time moves with the
event: a wait for a reply looks in the recorded events for one inside the timeout, and
a wait that would still be going today is reported as such.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from heedful.governance.actions import ActionError
from heedful.governance.services import policy_for
from heedful.workflows import crm_bridge
from heedful.workflows.actions import WORKFLOW_ACTIONS
from heedful.workflows.definition import check, jump_index
from heedful.workflows.engine import event_matches, initial_context, subject_dict, values_for
from heedful.workflows.expressions import (
    MissingValueError,
    describe_duration,
    evaluate_all,
    parse_duration,
    render,
    render_params,
    render_value,
)
from heedful.workflows.models import Event

MAX_EVENTS = 2000
EXAMPLES = 5
EMAILS_SHOWN = 20


@dataclass
class SimulatedRun:
    event_id: int
    event_name: str
    occurred_at: datetime
    subject_label: str
    outcome: str = ""
    log: list[str] = field(default_factory=list)


@dataclass
class DryRunReport:
    days: int
    events_seen: int = 0
    would_start: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    examples: list[SimulatedRun] = field(default_factory=list)
    emails: list[dict[str, str]] = field(default_factory=list)
    truncated: bool = False

    # For the page, most frequent first. A template cannot call ``Counter.items``: it looks up
    # the key "items" first, and a Counter answers 0 for any key.
    @property
    def skipped_rows(self) -> list[tuple[str, int]]:
        return self.skipped.most_common()

    @property
    def outcome_rows(self) -> list[tuple[str, int]]:
        return self.outcomes.most_common()

    @property
    def action_rows(self) -> list[tuple[str, int]]:
        return self.actions.most_common()


def _reply_within(
    name: str, event: Event, match: dict[str, Any], start: datetime, end: datetime
) -> Event | None:
    candidates = Event.objects.filter(name=name, occurred_at__gt=start, occurred_at__lte=end).order_by(
        "occurred_at"
    )
    if match.get("same_subject", True):
        candidates = candidates.filter(subject_type=event.subject_type, subject_id=event.subject_id)
    return next((c for c in candidates[:200] if event_matches(c.payload, match)), None)


def _simulate(
    definition: dict[str, Any],
    event: Event,
    report: DryRunReport,
    now: datetime,
    *,
    contact_now: dict[str, Any] | None,
    policies: dict[str, str],
) -> SimulatedRun:
    sim = SimulatedRun(event.pk, event.name, event.occurred_at, event.subject_label or "—")
    values = values_for(
        context=initial_context(event),
        subject=subject_dict(event.subject_type, event.subject_id, event.subject_label),
        workflow={"slug": "dry-run", "name": "dry run"},
        run_id=None,
        contact_now=contact_now,
    )
    clock = event.occurred_at
    steps = definition["steps"]
    index: int | None = 0
    while index is not None and index < len(steps):
        step = steps[index]
        goto = "next"
        kind = step["type"]
        if kind == "condition":
            passed, evaluations = evaluate_all(step["conditions"], values, step.get("match", "all"))
            goto = step.get("then", "next") if passed else step.get("else", "stop")
            texts = "; ".join(e.text for e in evaluations) or "no conditions"
            sim.log.append(f"{step['id']}: {texts} → {goto}")
        elif kind == "stop":
            sim.log.append(f"{step['id']}: stop ({step.get('reason', '')})")
            goto = "stop"
        elif kind == "wait":
            if "duration" in step:
                clock += parse_duration(step["duration"])
                sim.log.append(f"{step['id']}: wait {describe_duration(step['duration'])}")
            elif "until" in step:
                sim.log.append(f"{step['id']}: wait until {step['until']}")
            else:
                deadline = clock + parse_duration(step["timeout"])
                match = {
                    "same_subject": step.get("same_subject", bool(event.subject_type)),
                    "payload": {p: render_value(v, values) for p, v in step.get("match", {}).items()},
                }
                reply = _reply_within(step["event"], event, match, clock, deadline)
                if reply is not None:
                    goto = step.get("on_event", "next")
                    clock = reply.occurred_at
                    sim.log.append(f"{step['id']}: {step['event']} arrived (event #{reply.pk}) → {goto}")
                elif deadline > now:
                    sim.outcome = f"still waiting for {step['event']}"
                    sim.log.append(f"{step['id']}: would still be waiting for {step['event']} today")
                    return sim
                else:
                    goto = step.get("on_timeout", "next")
                    clock = deadline
                    sim.log.append(f"{step['id']}: no {step['event']} in time → {goto}")
            if clock > now and "event" not in step:
                sim.outcome = "still waiting"
                sim.log.append(f"{step['id']}: would still be waiting today")
                return sim
        elif kind == "approval":
            sim.log.append(f"{step['id']}: would ask: {render(step['question'], values)} (assumed approved)")
            report.actions["approval"] += 1
        else:
            _simulate_action(step, values, sim, report, policies)
            if sim.outcome:
                return sim
        index = jump_index(goto, index, steps)
    sim.outcome = "completed" if index is not None else "stopped"
    return sim


def _simulate_action(
    step: dict[str, Any],
    values: dict[str, Any],
    sim: SimulatedRun,
    report: DryRunReport,
    policies: dict[str, str],
) -> None:
    spec = WORKFLOW_ACTIONS[step["action"]]
    try:
        params = render_params(step.get("params", {}), values)
        built = spec.build(params, values)
    except (MissingValueError, ActionError) as exc:
        sim.outcome = f"would fail: {exc}"
        sim.log.append(f"{step['id']}: would fail: {exc}")
        return
    if built.action_type not in policies:
        policies[built.action_type] = policy_for(built.action_type)
    policy = policies[built.action_type]
    verb = {"auto": "would run", "ask": "would ask for approval to", "never": "would be blocked from"}[policy]
    sim.log.append(f"{step['id']}: {verb} {built.summary}")
    report.actions[f"{step['action']} ({policy})"] += 1
    if (
        built.action_type in ("workflows.send_email", "workflows.notify_user")
        and len(report.emails) < EMAILS_SHOWN
    ):
        report.emails.append(
            {
                "to": str(built.params.get("to") or built.params.get("user_email")),
                "subject": str(built.params["subject"]),
                "body": str(built.params["body"]),
                "policy": policy,
            }
        )


def dry_run(definition: dict[str, Any], *, days: int = 30, now: datetime | None = None) -> DryRunReport:
    """Simulate ``definition`` on the recorded events of the last ``days`` days."""
    from heedful.workflows.services import trigger_verdict

    check(definition)
    now = now or timezone.now()
    report = DryRunReport(days=days)
    trigger = definition["trigger"]
    events = Event.objects.filter(
        name=trigger["event"], occurred_at__gte=now - timedelta(days=days)
    ).order_by("occurred_at", "pk")
    seen_subjects: set[tuple[str, str]] = set()
    window = list(events[: MAX_EVENTS + 1])
    # Read once for the whole window: one query for the contacts, one per action type for
    # its policy, instead of three queries an event (2,000 events took 7–17 s).
    contacts = crm_bridge.contact_contexts(e.subject_id for e in window if e.subject_type == "contact")
    policies: dict[str, str] = {}
    for event in window:
        if report.events_seen == MAX_EVENTS:
            report.truncated = True
            break
        report.events_seen += 1
        contact_now = contacts.get(event.subject_id, {}) if event.subject_type == "contact" else None
        reason = trigger_verdict(trigger, event, seen_subjects, contact_now=contact_now)
        if reason:
            report.skipped[reason] += 1
            continue
        seen_subjects.add((event.subject_type, event.subject_id))
        report.would_start += 1
        sim = _simulate(definition, event, report, now, contact_now=contact_now, policies=policies)
        report.outcomes[sim.outcome] += 1
        if len(report.examples) < EXAMPLES:
            report.examples.append(sim)
    return report
