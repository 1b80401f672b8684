"""A batch of runs at the same action step takes it together (bulk.py), and leaves exactly the
rows the one-by-one path leaves: same decision records, proposals, audit events, outbox
messages, timeline entries and step logs, same emails."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from heedful.crm.models import Contact, TimelineEntry
from heedful.crm.services import create_contact
from heedful.governance.models import ActionPolicy, AuditEvent, DecisionRecord, ProposedAction
from heedful.governance.services import Subject
from heedful.workflows import services
from heedful.workflows.actions import stable_message_id
from heedful.workflows.events import emit_events
from heedful.workflows.models import (
    Consideration,
    Event,
    OutboxMessage,
    RunStatus,
    StepRun,
    WorkflowDefinition,
    WorkflowRun,
    WorkflowVersion,
)
from heedful.workflows.tests.conftest import TaskQueue
from heedful.workflows.tests.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)

CHECK = {"id": "check", "type": "condition", "conditions": [{"path": "event.n", "op": "gte", "value": 0}]}
WELCOME = {
    "id": "welcome",
    "type": "action",
    "action": "send_email",
    "params": {
        "subject": 'Welcome, {{ contact.first_name|default:"friend" }}',
        "body": "Hi {{ contact.email }}",
    },
}
# An action type without a bulk handler: proposed together, run one by one.
NOTE = {"id": "note", "type": "action", "action": "add_timeline_entry", "params": {"title": "Welcomed"}}
PEOPLE = [("ana@example.com", "Ana"), ("ben@example.com", ""), ("cleo@example.com", "Cleo")]


def _enrol(policy: str, tasks: TaskQueue, *, together: bool) -> None:
    """Three contacts onboarded (Ana twice) into a welcome campaign, with two more workflows
    listening: one whose condition only Cleo meets, one that is off."""
    ActionPolicy.objects.create(action_type="workflows.send_email", mode=policy)
    contacts = [create_contact(email=email, first_name=name) for email, name in PEOPLE]
    make_workflow(
        CHECK, WELCOME, NOTE, name="Welcome", event="customer.onboarded", reentry="once_per_subject"
    )
    make_workflow(
        {"id": "end", "type": "stop", "reason": "seen Cleo"},
        name="Only Cleo",
        event="customer.onboarded",
        conditions=[{"path": "contact.first_name", "op": "equals", "value": "Cleo"}],
    )
    make_workflow(name="Off", event="customer.onboarded", enabled=False)
    emit_events(
        "customer.onboarded",
        (({"n": n}, Subject.of(contact, "contact")) for n, contact in enumerate([*contacts, contacts[0]])),
    )
    tasks.queued.clear()  # the matching task: matched here, so the runs go the way the test says
    event_ids = list(
        Event.objects.filter(name="customer.onboarded").order_by("pk").values_list("pk", flat=True)
    )
    if together:
        run_ids = services.match_events(event_ids)
        tasks.queued.clear()  # the advance_runs_task match_events queued: advanced here instead
        services.advance_runs(run_ids)
    else:
        run_ids = [run_id for event_id in event_ids for run_id in services.match_event(event_id)]
        tasks.queued.clear()
        for run_id in run_ids:
            services.advance_run(run_id)
    tasks.drain()


class _Names:
    """Names rows by what they are (``run:ana@example.com``, ``proposal:ana@example.com:welcome``),
    not by their ids: one by one, a run's rows are written together; in bulk, a step's rows for
    all runs are. The same thing must carry the same name in both."""

    def __init__(self) -> None:
        self.run = {r.pk: f"run:{r.workflow.slug}:{r.subject_label}" for r in WorkflowRun.objects.all()}
        self.event = {
            e.pk: f"event:{e.name}:{e.subject_label}:{e.payload.get('n')}" for e in Event.objects.all()
        }
        self.proposal: dict[int, str] = {}
        self.decision: dict[int, str] = {}
        self.message: dict[str, str] = {}
        for p in ProposedAction.objects.all():
            _wf, run_id, step_id, _attempt = str(p.idempotency_key).split(":")
            self.proposal[p.pk] = f"proposal:{self.run[int(run_id)]}:{step_id}"
            self.decision[p.decision_id or 0] = f"decision:{self.run[int(run_id)]}:{step_id}"
            self.message[stable_message_id(f"proposal:{p.pk}")] = f"message:{self.proposal[p.pk]}"
        self.outbox = {
            o.pk: f"outbox:{self.proposal[o.proposal_id or 0]}" for o in OutboxMessage.objects.all()
        }
        contacts = {str(c.pk): f"contact:{c.email}" for c in Contact.objects.all()}
        self.by_key = {
            "workflow_id": {w.pk: w.slug for w in WorkflowDefinition.objects.all()},
            "version_id": {v.pk: f"v{v.number}" for v in WorkflowVersion.objects.all()},
            "contact_id": contacts,
            "subject_id": contacts,
            "run_id": self.run,
            "workflow_run_id": self.run,
            "waiting_proposal_id": self.proposal,
            "event_id": self.event,
            "wake_event_id": self.event,
            "proposal_id": self.proposal,
            "decision_id": self.decision,
            "outbox_id": self.outbox,
        }

    def text(self, value: str) -> str:
        value = re.sub(r"event #(\d+)", lambda m: self.event[int(m.group(1))], value)
        value = re.sub(r"run #(\d+)", lambda m: self.run[int(m.group(1))], value)
        value = re.sub(r"#(\d+)", lambda m: self.proposal[int(m.group(1))], value)
        value = re.sub(r"^wf:(\d+):", lambda m: self.run[int(m.group(1))] + ":", value)
        value = re.sub(r"^proposal:(\d+)$", lambda m: self.proposal[int(m.group(1))], value)
        return self.message.get(value, value)

    def of(self, value: Any, key: str = "") -> Any:
        if key in ("contact_id", "subject_id") and value is not None:
            return self.by_key[key][str(value)]
        if key in self.by_key and isinstance(value, int):
            return self.by_key[key][value]
        if key in ("once_key", "active_key") and value:
            workflow_id, subject_type, subject_id = value.split(":")
            workflow = self.by_key["workflow_id"][int(workflow_id)]
            return f"{workflow}:{subject_type}:{self.of(subject_id, 'subject_id')}"
        if key == "object_id":  # of the audited proposal
            return self.proposal[int(value)]
        if isinstance(value, dict):
            # When the event happened differs between two enrolments; what it was does not.
            return {k: self.of(v, k) for k, v in value.items() if k != "occurred_at"}
        if isinstance(value, list):
            return [self.of(v) for v in value]
        return self.text(value) if isinstance(value, str) else value


def _rows(names: _Names, model: type[models.Model], own: dict[int, str] | None, **where: Any) -> list[Any]:
    """The rows, named; their times only say whether they are set (they differ between runs)."""
    times = {f.attname for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField)}
    rows = []
    for row in model._default_manager.filter(**where).values():
        row = {k: (v is not None) if k in times else names.of(v, k) for k, v in row.items()}
        row["id"] = own[row["id"]] if own is not None else None
        rows.append(row)
    return sorted(rows, key=repr)


def _everything() -> dict[str, Any]:
    names = _Names()
    timeline = _rows(names, TimelineEntry, None, source="workflows")
    for entry in timeline:
        entry["ref_id"] = names.run[int(entry["ref_id"])]
    return {
        "runs": _rows(names, WorkflowRun, names.run),
        "steps": _rows(names, StepRun, None),
        "considerations": _rows(names, Consideration, None),
        "decisions": _rows(names, DecisionRecord, names.decision),
        "proposals": _rows(names, ProposedAction, names.proposal),
        "audit": _rows(names, AuditEvent, None, object_type="proposedaction"),
        "outbox": _rows(names, OutboxMessage, names.outbox),
        "timeline": timeline,
        "emails": sorted(
            (m.to, m.subject, m.body, names.text(m.extra_headers["Message-ID"])) for m in mail.outbox
        ),
    }


@pytest.mark.parametrize("policy", ["auto", "ask", "never"])
def test_a_batch_leaves_exactly_the_rows_one_run_at_a_time_leaves(tasks: TaskQueue, policy: str) -> None:
    _enrol(policy, tasks, together=False)
    one_by_one = _everything()
    # Start again from an empty database, with the same contacts.
    call_command("flush", interactive=False, verbosity=0)
    mail.outbox.clear()
    _enrol(policy, tasks, together=True)
    together = _everything()

    assert together == one_by_one
    assert len(together["proposals"]) == {"auto": 6, "ask": 3, "never": 6}[policy]
    assert len(together["emails"]) == {"auto": 3, "ask": 0, "never": 0}[policy]


def test_an_auto_email_in_a_batch_is_explained_like_a_single_one(tasks: TaskQueue) -> None:
    _enrol("auto", tasks, together=True)
    run = WorkflowRun.objects.get(subject_label="ben@example.com", workflow__slug="welcome")
    step = StepRun.objects.get(run=run, step_id="welcome")
    assert (
        step.explanation == "Send an email: Email to ben@example.com queued for delivery (by policy (auto))."
    )
    decision = DecisionRecord.objects.get(pk=step.decision_id)
    assert decision.output_summary == "Email ben@example.com: Welcome, friend"
    assert decision.outcome == "Done: Email to ben@example.com queued for delivery"
    assert decision.factors == [
        {"text": f"customer.onboarded (event #{run.event_id}) matched the trigger of v1", "weight": 1.0},
        {"text": "Step 2: welcome", "weight": 0.0},
    ]
    proposal = ProposedAction.objects.get(pk=step.proposal_id)
    assert (proposal.status, proposal.idempotency_key, proposal.execution_count) == (
        "done",
        f"wf:{run.pk}:welcome:1",
        1,
    )
    assert list(
        AuditEvent.objects.filter(object_id=str(proposal.pk), object_type="proposedaction")
        .order_by("pk")
        .values_list("action", "summary")
    ) == [
        (
            "action.propose",
            "Email ben@example.com: “Welcome, friend” — Runs automatically by policy: "
            "Email ben@example.com: “Welcome, friend”",
        ),
        ("action.execute", "Email to ben@example.com queued for delivery"),
    ]
    assert run.status == RunStatus.COMPLETED


def test_an_email_waiting_for_approval_in_a_batch_goes_once_approved(tasks: TaskQueue, owner: Any) -> None:
    from heedful.governance import services as trust

    _enrol("ask", tasks, together=True)
    assert mail.outbox == []
    assert set(WorkflowRun.objects.filter(workflow__slug="welcome").values_list("status", flat=True)) == {
        RunStatus.WAITING
    }
    proposal = ProposedAction.objects.get(subject_label__startswith="Cleo")
    assert proposal.decision is not None
    assert proposal.decision.outcome == f"Waiting for approval (#{proposal.pk})"

    trust.approve_action(proposal.pk, user=owner)
    tasks.drain()
    assert [m.to for m in mail.outbox] == [["cleo@example.com"]]
    run = WorkflowRun.objects.get(pk=proposal.params["workflow_run_id"])
    assert run.status == RunStatus.COMPLETED
    assert StepRun.objects.get(run=run, step_id="welcome").explanation.endswith(
        "(approved by olivia@example.com)."
    )


def test_one_bad_contact_fails_alone_and_the_others_go_out(tasks: TaskQueue, auto_email: None) -> None:
    make_workflow(
        {
            "id": "hello",
            "type": "action",
            "action": "send_email",
            "params": {"subject": "Hello {{ contact.first_name }}", "body": "Your order {{ event.n }}"},
        },
        event="customer.onboarded",
    )
    people = [
        {"email": "ok1@example.com", "first_name": "Ola"},
        {"email": "no-at-sign", "first_name": "Nia"},  # not an address
        {"email": "ok2@example.com", "first_name": ""},  # nothing for the template's token
        {"email": "ok3@example.com", "first_name": "Omar"},
    ]
    emit_events(
        "customer.onboarded",
        (
            ({"n": n, "contact": person}, Subject("contact", f"x{n}", person["email"]))
            for n, person in enumerate(people)
        ),
    )
    assert tasks.drain() == ["match-many", "advance-many", "deliver-many"]

    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("ok1@example.com", "Hello Ola"),
        ("ok3@example.com", "Hello Omar"),
    ]
    runs = {r.subject_label: r for r in WorkflowRun.objects.all()}
    assert {label: run.status for label, run in runs.items()} == {
        "ok1@example.com": RunStatus.COMPLETED,
        "no-at-sign": RunStatus.FAILED,
        "ok2@example.com": RunStatus.FAILED,
        "ok3@example.com": RunStatus.COMPLETED,
    }
    assert (
        runs["no-at-sign"].error
        == "There is no email address to send to (set 'to' or give the run a contact)."
    )
    failed = StepRun.objects.get(run=runs["ok2@example.com"])
    assert (failed.status, failed.error, failed.attempt) == ("failed", runs["ok2@example.com"].error, 1)
    assert failed.error.endswith("{{ contact.first_name }} has no value and no default")
    # Nothing was proposed, decided or queued for the two that failed.
    assert sorted(ProposedAction.objects.values_list("subject_label", flat=True)) == [
        "ok1@example.com",
        "ok3@example.com",
    ]
    assert DecisionRecord.objects.count() == 2
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


def _advance_statements(tasks: TaskQueue, count: int) -> list[int]:
    """Match the unmatched events, then count the statements advancing their ``count`` runs
    takes; returns [statements, *run ids]."""
    tasks.queued.clear()
    ids = list(Event.objects.filter(matched_at__isnull=True).values_list("pk", flat=True))
    run_ids = services.match_events(ids)
    tasks.queued.clear()
    with CaptureQueriesContext(connection) as captured:
        services.advance_runs(run_ids)
    assert WorkflowRun.objects.filter(pk__in=run_ids, status=RunStatus.COMPLETED).count() == count
    return [len(captured), *run_ids]


def test_a_batch_costs_the_same_queries_for_ten_runs_as_for_forty(tasks: TaskQueue, auto_email: None) -> None:
    make_workflow(WELCOME, event="customer.onboarded")

    def queries_for(first: int, count: int) -> int:
        emit_events(
            "customer.onboarded",
            (
                ({"contact": {"email": f"p{n}@example.com"}}, Subject("contact", f"p{n}", f"P{n}"))
                for n in range(first, first + count)
            ),
        )
        return _advance_statements(tasks, count)[0]

    assert queries_for(0, 10) == queries_for(10, 40)


def test_advancing_a_batch_again_does_nothing_again(tasks: TaskQueue) -> None:
    _enrol("auto", tasks, together=True)
    counts = (ProposedAction.objects.count(), OutboxMessage.objects.count(), StepRun.objects.count())
    # A redelivered task: the runs are done, nothing is proposed or queued twice.
    services.advance_runs(list(WorkflowRun.objects.values_list("pk", flat=True)))
    tasks.drain()
    assert (ProposedAction.objects.count(), OutboxMessage.objects.count(), StepRun.objects.count()) == counts
    assert len(mail.outbox) == 3


def test_two_workers_handed_the_same_batch_send_each_email_once(tasks: TaskQueue) -> None:
    from heedful.workflows import outbox

    _enrol("auto", tasks, together=False)  # delivered one by one, as the tasks fixture does
    ids = list(OutboxMessage.objects.order_by("pk").values_list("pk", flat=True))
    OutboxMessage.objects.update(status="pending", attempts=0)
    mail.outbox.clear()

    # A duplicated batch task: the first worker claims all three, the second finds none left.
    assert (outbox.deliver_many(ids), outbox.deliver_many(ids)) == (3, 0)
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "ben@example.com", "cleo@example.com"]
    assert list(OutboxMessage.objects.order_by("pk").values_list("status", "attempts")) == [("sent", 1)] * 3


def test_the_sweep_queues_a_backlog_of_stalled_runs_in_batches(tasks: TaskQueue, auto_email: None) -> None:
    from datetime import timedelta

    from django.utils import timezone

    make_workflow(WELCOME, event="customer.onboarded")
    emit_events(
        "customer.onboarded",
        (
            ({"contact": {"email": f"s{n}@example.com"}}, Subject("contact", f"s{n}", f"S{n}"))
            for n in range(3)
        ),
    )
    tasks.queued.clear()
    services.match_events(list(Event.objects.values_list("pk", flat=True)))
    tasks.queued.clear()  # the advance_runs_task is lost with its worker

    assert services.sweep(timezone.now() + timedelta(minutes=5)) == {
        "runs": 0,
        "stalled": 3,
        "events": 0,
        "outbox": 0,
    }
    assert tasks.drain() == ["advance-many", "deliver-many"]
    assert sorted(m.to[0] for m in mail.outbox) == ["s0@example.com", "s1@example.com", "s2@example.com"]


def test_runs_that_used_up_their_steps_are_handed_on_and_finished_ones_are_not(tasks: TaskQueue) -> None:
    from django.db import transaction

    from heedful.workflows.bulk import advance_many

    checks = [{**CHECK, "id": f"c{n}"} for n in range(12)]
    make_workflow(*checks, event="customer.onboarded")
    make_workflow(CHECK, name="Short", event="customer.onboarded")
    emit_events("customer.onboarded", [({"n": 1}, Subject("contact", "s1", "S1"))])
    tasks.queued.clear()
    run_ids = services.match_events(list(Event.objects.values_list("pk", flat=True)))
    tasks.queued.clear()

    with transaction.atomic():
        ran, unfinished = advance_many(run_ids, max_steps=5)

    runs = {r.workflow.slug: r for r in WorkflowRun.objects.select_related("workflow")}
    assert (ran, unfinished) == (6, [runs["shipped"].pk])
    assert (runs["shipped"].status, runs["shipped"].cursor) == (RunStatus.RUNNING, 5)
    assert runs["short"].status == RunStatus.COMPLETED


def test_a_batch_of_condition_runs_costs_the_same_queries_for_ten_runs_as_for_forty(tasks: TaskQueue) -> None:
    make_workflow(CHECK, {**CHECK, "id": "again"}, event="customer.onboarded")

    def queries_for(first: int, count: int) -> int:
        emit_events(
            "customer.onboarded",
            (({"n": n}, Subject("contact", f"p{n}", f"P{n}")) for n in range(first, first + count)),
        )
        statements, *run_ids = _advance_statements(tasks, count)
        assert StepRun.objects.filter(run_id__in=run_ids, status="done").count() == 2 * count
        return statements

    assert queries_for(0, 10) == queries_for(10, 40)
