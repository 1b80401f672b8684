"""Bulk work goes in batches: many events, one matching task; their runs, one task; their
emails, one task and one connection."""

from __future__ import annotations

import pytest
from django.core import mail

from heedful.governance.services import Subject
from heedful.workflows.events import emit_events
from heedful.workflows.models import OutboxMessage, RunStatus, StepRun, WorkflowRun
from heedful.workflows.tests.conftest import TaskQueue
from heedful.workflows.tests.factories import email_step, make_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_enrolment_of_many_contacts_is_matched_advanced_and_delivered_in_batches(
    tasks: TaskQueue, auto_email: None
) -> None:
    check = {"id": "ok", "type": "condition", "conditions": [{"path": "event.n", "op": "gte", "value": 0}]}
    make_workflow({**check, "id": "a"}, {**check, "id": "b"}, email_step())
    people = [(f"p{n}@example.com", n) for n in range(3)]

    emit_events(
        "order.shipped",
        (
            (
                {"n": n, "contact": {"email": email}, "order": {"number": f"A-{n}", "tracking_url": "t"}},
                Subject("contact", f"9{n}", email),
            )
            for email, n in people
        ),
    )
    ran = tasks.drain()

    # The steps ran their auto-approved emails inline: no execution task is queued for them.
    assert ran == ["match-many", "advance-many", "deliver-many"]
    assert sorted(m.to[0] for m in mail.outbox) == [email for email, _n in people]
    assert set(WorkflowRun.objects.values_list("status", flat=True)) == {RunStatus.COMPLETED}
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    run = WorkflowRun.objects.order_by("pk").first()
    assert list(StepRun.objects.filter(run=run).order_by("step_index").values_list("step_id", "status")) == [
        ("a", "done"),
        ("b", "done"),
        ("mail", "done"),
    ]
