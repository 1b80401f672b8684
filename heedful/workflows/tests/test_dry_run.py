"""A dry run shows what a draft would have done with past events, and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from heedful.governance.models import DecisionRecord, ProposedAction
from heedful.workflows.dryrun import dry_run
from heedful.workflows.events import emit_event
from heedful.workflows.models import Event, OutboxMessage, WorkflowRun
from heedful.workflows.tests.factories import ROSA, definition, email_step, shipped_payload

pytestmark = pytest.mark.django_db


def test_it_counts_skips_runs_and_shows_the_emails_without_side_effects() -> None:
    now = timezone.now()
    emit_event(
        "order.shipped", shipped_payload("A-1", carrier="DHL"), ROSA, occurred_at=now - timedelta(days=2)
    )
    emit_event(
        "order.shipped", shipped_payload("A-2", carrier="UPS"), ROSA, occurred_at=now - timedelta(days=1)
    )
    emit_event(
        "order.shipped", shipped_payload("A-0", carrier="DHL"), ROSA, occurred_at=now - timedelta(days=40)
    )
    draft = definition(
        email_step(), conditions=[{"path": "event.order.carrier", "op": "equals", "value": "DHL"}]
    )

    report = dry_run(draft, days=30, now=now)

    assert (report.events_seen, report.would_start) == (2, 1)
    assert dict(report.skipped) == {"conditions not met: event.order.carrier": 1}
    assert dict(report.outcomes) == {"completed": 1}
    assert dict(report.actions) == {"send_email (ask)": 1}
    assert report.emails == [
        {
            "to": "rosa@example.com",
            "subject": "Order A-1 is on its way",
            "body": "Hi Rosa, track it at https://t.example/1.",
            "policy": "ask",
        }
    ]
    assert (WorkflowRun.objects.count(), ProposedAction.objects.count(), OutboxMessage.objects.count()) == (
        0,
        0,
        0,
    )
    assert DecisionRecord.objects.count() == 0
    assert Event.objects.count() == 3


def test_a_wait_for_a_reply_uses_the_replies_that_really_came() -> None:
    now = timezone.now()
    emit_event("lead.created", {}, ROSA, occurred_at=now - timedelta(days=10))
    emit_event("conversation.customer_replied", {}, ROSA, occurred_at=now - timedelta(days=9))
    other = type(ROSA)("contact", "13", "Sami")
    emit_event("lead.created", {}, other, occurred_at=now - timedelta(days=10))
    emit_event("lead.created", {}, type(ROSA)("contact", "14", "Tara"), occurred_at=now - timedelta(days=1))
    draft = definition(
        {
            "id": "reply",
            "type": "wait",
            "event": "conversation.customer_replied",
            "timeout": "3d",
            "on_event": "stop",
        },
        {"id": "done", "type": "stop", "reason": "no reply"},
        event="lead.created",
    )
    report = dry_run(draft, days=30, now=now)
    assert dict(report.outcomes) == {"stopped": 2, "still waiting for conversation.customer_replied": 1}
    logs = [ex.log[0] for ex in report.examples]
    assert logs[0].startswith("reply: conversation.customer_replied arrived")
    assert logs[1] == "reply: no conversation.customer_replied in time → next"


def test_the_dry_run_reads_contacts_and_policies_once_however_many_events(django_assert_num_queries) -> None:
    from heedful.crm.tests.factories import ContactFactory
    from heedful.governance.services import Subject

    now = timezone.now()
    contacts = [ContactFactory(first_name=f"P{i}", email=f"p{i}@example.com") for i in range(12)]
    for i, contact in enumerate(contacts):
        payload = {"contact": {"id": contact.pk, "email": contact.email}, "order": {"number": f"B-{i}"}}
        emit_event(
            "order.shipped",
            payload,
            Subject("contact", str(contact.pk), contact.email),
            occurred_at=now - timedelta(hours=i + 1),
        )
    Event.objects.filter(subject_id=str(contacts[0].pk)).update(subject_id="999999")  # since erased
    greet = email_step(params={"subject": 'Hi {{ contact.first_name|default:"there" }}', "body": "x"})

    with django_assert_num_queries(3):  # the events, their contacts, the email action's policy
        report = dry_run(definition(greet), days=30, now=now)

    assert report.would_start == 12
    assert sorted(e["subject"] for e in report.emails) == sorted(
        ["Hi there"] + [f"Hi P{i}" for i in range(1, 12)]
    )
