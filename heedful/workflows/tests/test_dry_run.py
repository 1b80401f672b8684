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
