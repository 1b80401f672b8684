"""Erasing a contact empties what workflows hold about them and stops what was still to come."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from heedful.accounts.models import User
from heedful.crm.erasure import erase_contact, erasure_preview
from heedful.crm.services import create_contact
from heedful.governance.models import AuditEvent, DecisionRecord, ProposalStatus, ProposedAction
from heedful.governance.services import Subject
from heedful.workflows import outbox, services
from heedful.workflows.events import emit_event
from heedful.workflows.models import (
    Consideration,
    Event,
    OutboxMessage,
    OutboxStatus,
    RunStatus,
    StepRun,
    WorkflowRun,
)
from heedful.workflows.tests.conftest import TaskQueue
from heedful.workflows.tests.factories import email_step, make_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def _everything_workflows_hold() -> str:
    rows = [
        list(model.objects.values())
        for model in (Event, WorkflowRun, StepRun, OutboxMessage, Consideration)  # type: ignore[attr-defined]
    ]
    return json.dumps(rows, default=str)


def test_erasing_a_contact_cancels_their_runs_and_empties_events_logs_and_emails(
    tasks: TaskQueue, auto_email: None
) -> None:
    rosa = create_contact(email="rosa@example.com", first_name="Rosa")
    sami = create_contact(email="sami@example.com", first_name="Sami")
    make_workflow(
        email_step("shipped"),
        {"id": "pause", "type": "wait", "duration": "2d"},
        email_step("check-in"),
    )
    for person, number in ((rosa, "A-1"), (sami, "A-2")):
        emit_event(
            "order.shipped",
            {
                "contact": {"email": person.email, "first_name": person.first_name},
                "order": {"number": number, "tracking_url": "https://t.example/1"},
            },
            Subject.of(person, "contact"),
        )
    tasks.drain()
    assert [m.to for m in mail.outbox] == [["rosa@example.com"], ["sami@example.com"]]
    assert set(WorkflowRun.objects.values_list("status", flat=True)) == {RunStatus.WAITING}

    report = erase_contact(contact=rosa)

    assert {k: v for k, v in report.rows.items() if k.startswith("workflows.")} == {
        "workflows.decisions_anonymised": 0,
        "workflows.emails": 1,
        "workflows.emails_not_sent": 0,
        "workflows.events": 2,  # contact.created and order.shipped
        "workflows.proposals_anonymised": 0,
        "workflows.proposals_withdrawn": 0,
        "workflows.runs": 1,
        "workflows.runs_cancelled": 1,
        "workflows.tasks": 0,
    }
    held = _everything_workflows_hold()
    assert "rosa" not in held.lower()
    assert "sami@example.com" in held  # nobody else's data goes
    erased_run = WorkflowRun.objects.get(subject_label="(erased)")
    assert (erased_run.status, erased_run.error, erased_run.context) == (
        RunStatus.CANCELLED,
        "Cancelled: the person it was about was erased.",
        {"erased": True},
    )
    assert Event.objects.filter(payload={"erased": True}).count() == 2
    assert OutboxMessage.objects.filter(payload={"erased": True}).count() == 1

    # Two days later only Sami's run goes on to the check-in email.
    services.sweep(timezone.now() + timedelta(days=2, minutes=1))
    tasks.drain()
    assert [m.to for m in mail.outbox] == [["rosa@example.com"], ["sami@example.com"], ["sami@example.com"]]
    assert WorkflowRun.objects.get(pk=erased_run.pk).status == RunStatus.CANCELLED


def test_an_email_not_sent_yet_never_goes_out_and_cannot_be_retried(
    tasks: TaskQueue, auto_email: None
) -> None:
    rosa = create_contact(email="rosa@example.com", first_name="Rosa")
    make_workflow()
    emit_event(
        "order.shipped", {"order": {"number": "A-3", "tracking_url": "x"}}, Subject.of(rosa, "contact")
    )
    for _ in range(10):  # up to the moment the email is written to the outbox, not delivered
        if OutboxMessage.objects.exists() or not tasks.queued:
            break
        _name, fn, args = tasks.queued.pop(0)
        fn(*args)
    [message] = OutboxMessage.objects.all()
    assert message.status == OutboxStatus.PENDING

    report = erase_contact(contact=rosa)

    assert report.rows["workflows.emails_not_sent"] == 1
    tasks.drain()
    services.sweep(timezone.now() + timedelta(hours=1))
    tasks.drain()
    message.refresh_from_db()
    assert (message.status, message.last_error, message.payload) == (
        OutboxStatus.FAILED,
        "Not sent: the person was erased.",
        {"erased": True},
    )
    assert outbox.retry_failed(message.pk) is False
    assert mail.outbox == []


def test_the_audit_events_about_her_runs_and_emails_say_nothing_about_her(
    tasks: TaskQueue, auto_email: None, owner: User
) -> None:
    rosa = create_contact(email="rosa@example.com", first_name="Rosa")
    sami = create_contact(email="sami@example.com", first_name="Sami")
    make_workflow(
        email_step("shipped"), {"id": "pause", "type": "wait", "duration": "2d"}, email_step("check-in")
    )
    for person in (rosa, sami):
        emit_event(
            "order.shipped",
            {"contact": {"email": person.email}, "order": {"number": "A-1", "tracking_url": "x"}},
            Subject.of(person, "contact"),
        )
    tasks.drain()
    assert set(WorkflowRun.objects.values_list("status", flat=True)) == {RunStatus.WAITING}
    for run in WorkflowRun.objects.order_by("pk"):
        services.cancel_run(run.pk, user=owner)
    rosas_run = WorkflowRun.objects.get(subject_id=str(rosa.pk))
    log_before = list(AuditEvent.objects.order_by("pk").values())
    assert "rosa" in json.dumps(log_before, default=str).lower()

    report = erase_contact(contact=rosa)

    log = list(AuditEvent.objects.order_by("pk").values())
    assert "rosa" not in json.dumps(log, default=str).lower()
    changed = [
        (old["action"], old["object_type"]) for old, new in zip(log_before, log, strict=False) if old != new
    ]
    assert changed == [
        ("contact.create", "contact"),
        ("action.propose", "proposedaction"),  # "Email rosa@example.com: Order … is on its way"
        ("action.execute", "proposedaction"),
        ("workflow.cancel", "workflowrun"),
    ]
    assert report.rows["governance.audit_events_redacted"] == 4
    cancelled = AuditEvent.objects.get(action="workflow.cancel", object_id=str(rosas_run.pk))
    assert (cancelled.actor_user, cancelled.object_repr, cancelled.summary) == (
        owner,
        f"workflowrun #{rosas_run.pk} (erased)",
        "(erased)",
    )
    assert "sami@example.com" in json.dumps(log, default=str)


def test_the_proposals_her_runs_made_about_other_objects_are_scrubbed_and_withdrawn(
    tasks: TaskQueue,
) -> None:
    rosa = create_contact(email="rosa@example.com", first_name="Rosa")
    make_workflow()  # emails ask first: the proposal waits
    for email, number in (("rosa@example.com", "A-7"), ("sami@example.com", "A-8")):
        # About an order the shop never told the inbox of: only the payload names her.
        emit_event(
            "order.shipped",
            {"contact": {"email": email}, "order": {"number": number, "tracking_url": "x"}},
            Subject("order", number, f"Order {number} for {email}"),
        )
    tasks.drain()
    assert ProposedAction.objects.filter(status=ProposalStatus.PENDING).count() == 2

    report = erase_contact(contact=rosa)

    assert {k: v for k, v in report.rows.items() if "proposals" in k or "decisions" in k} == {
        "crm.decisions_anonymised": 0,
        "crm.proposals_anonymised": 0,
        "crm.proposals_withdrawn": 0,
        "inbox.decisions_anonymised": 0,
        "inbox.proposals_anonymised": 0,
        "inbox.proposals_withdrawn": 0,
        "workflows.decisions_anonymised": 1,  # the email step's
        "workflows.proposals_anonymised": 1,
        "workflows.proposals_withdrawn": 1,
    }
    hers, sams = ProposedAction.objects.order_by("subject_id")
    assert (hers.subject_id, hers.status, hers.subject_label, hers.explanation) == (
        "A-7",
        ProposalStatus.REJECTED,
        "(erased)",
        "(erased)",
    )
    assert set(hers.params.values()) == {"(erased)"}
    assert (sams.status, sams.params["to"]) == (ProposalStatus.PENDING, "sami@example.com")
    assert "rosa" not in _everything_workflows_hold().lower()
    hers_decided, sams_decided = DecisionRecord.objects.order_by("subject_id")
    assert (hers_decided.subject_label, sams_decided.subject_label) == (
        "(erased)",
        "Order A-8 for sami@example.com",
    )
    assert hers_decided.inputs == dict.fromkeys(sams_decided.inputs, "(erased)")
    assert "order.shipped" in sams_decided.inputs.values()


WORKFLOW_RECORDS = ("workflows.decisions", "workflows.proposals")


def test_records_about_the_same_object_from_runs_that_do_not_name_her_stay(tasks: TaskQueue) -> None:
    rosa = create_contact(email="rosa@example.com", first_name="Rosa")
    make_workflow()  # emails ask first: the proposal waits
    acme = Subject("company", "acme", "ACME Ltd")
    for email in ("rosa@example.com", "sami@example.com"):
        # Two events about one company, sent through the API: only the first names her.
        emit_event(
            "order.shipped",
            {"contact": {"email": email}, "order": {"number": "A-9", "tracking_url": "x"}},
            acme,
        )
    tasks.drain()
    sams = ProposedAction.objects.get(params__to="sami@example.com")
    sams_log = list(AuditEvent.objects.filter(object_id=str(sams.pk)).values())
    preview = erasure_preview(rosa)

    report = erase_contact(contact=rosa)

    assert report.rows == preview.rows  # the confirmation page counted what happened

    scrubbed = {k: v for k, v in report.rows.items() if k.split("_")[0] in WORKFLOW_RECORDS}
    assert scrubbed == {
        "workflows.decisions_anonymised": 1,  # her run's email step's, not Sami's
        "workflows.proposals_anonymised": 1,
        "workflows.proposals_withdrawn": 1,
    }
    sams.refresh_from_db()
    assert (sams.status, sams.subject_label, sams.params["to"]) == (
        ProposalStatus.PENDING,
        "ACME Ltd",
        "sami@example.com",
    )
    assert list(AuditEvent.objects.filter(object_id=str(sams.pk)).values()) == sams_log
    hers = ProposedAction.objects.exclude(pk=sams.pk).get()
    assert (hers.status, hers.subject_label, hers.explanation) == (
        ProposalStatus.REJECTED,
        "(erased)",
        "(erased)",
    )
    assert sorted(DecisionRecord.objects.values_list("subject_label", flat=True)) == [
        "(erased)",
        "ACME Ltd",
    ]
    assert DecisionRecord.objects.get(subject_label="ACME Ltd").proposals.get() == sams
    assert "rosa" not in _everything_workflows_hold().lower()
    assert "rosa" not in json.dumps(list(DecisionRecord.objects.values()), default=str).lower()
