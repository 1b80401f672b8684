"""Bulk work goes in batches: many events, one matching task; their runs, one task; their
emails, one task and one connection."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from heedful.governance.services import Subject
from heedful.workflows.events import emit_event, emit_events
from heedful.workflows.models import Consideration, Event, OutboxMessage, RunStatus, StepRun, WorkflowRun
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


CHECK = {"id": "ok", "type": "condition", "conditions": [{"path": "event.n", "op": "gte", "value": 0}]}


def _emit(n: int) -> int:
    return emit_event("order.created", {"n": n}, Subject("contact", f"9{n}", f"c{n}")).pk


def _emit_in_one_transaction(*numbers: int) -> list[int]:
    with transaction.atomic():
        return [_emit(n) for n in numbers]


def _emit_then_fail(n: int) -> None:
    with transaction.atomic():
        _emit(n)
        raise RuntimeError("the service changed its mind")


def test_events_emitted_in_one_transaction_are_matched_in_one_task(tasks: TaskQueue) -> None:
    workflow = make_workflow(CHECK, event="order.created")

    ids = _emit_in_one_transaction(0, 1, 2)

    assert tasks.names() == ["match-many"]
    assert tasks.queued[0][2] == (ids,)
    assert tasks.drain() == ["match-many", "advance-many"]
    verdicts = Consideration.objects.order_by("event_id").values_list("event_id", "workflow_id", "started")
    assert list(verdicts) == [
        (ids[0], workflow.pk, True),
        (ids[1], workflow.pk, True),
        (ids[2], workflow.pk, True),
    ]
    assert list(WorkflowRun.objects.values_list("status", flat=True)) == [RunStatus.COMPLETED] * 3


def test_an_event_emitted_alone_is_matched_alone(tasks: TaskQueue) -> None:
    make_workflow(CHECK, event="order.created")

    (only,) = _emit_in_one_transaction(0)

    assert tasks.drain() == ["match", "advance"]
    assert tasks.ran[0] == ("match", (only,))


def test_an_event_whose_savepoint_rolled_back_is_not_sent_to_be_matched(tasks: TaskQueue) -> None:
    make_workflow(CHECK, event="order.created")

    with transaction.atomic():
        first = _emit(1)
        with pytest.raises(RuntimeError):
            _emit_then_fail(2)
        last = _emit(3)

    assert [args for _name, _fn, args in tasks.queued] == [([first, last],)]
    assert list(Event.objects.order_by("pk").values_list("pk", flat=True)) == [first, last]


def test_a_transaction_rolled_back_sends_nothing_and_leaves_nothing_for_the_next(tasks: TaskQueue) -> None:
    make_workflow(CHECK, event="order.created")

    with pytest.raises(RuntimeError):
        _emit_then_fail(1)
    assert tasks.names() == []

    (after,) = _emit_in_one_transaction(2)

    assert [(name, args) for name, _fn, args in tasks.queued] == [("match", (after,))]


def test_events_of_different_kinds_in_one_transaction_are_matched_together(tasks: TaskQueue) -> None:
    created = make_workflow(CHECK, name="Created", event="order.created")
    shipped = make_workflow(CHECK, name="Shipped", event="order.shipped")

    with transaction.atomic():
        first = _emit(1)
        second = emit_event("order.shipped", {"n": 2}, Subject("contact", "92", "c2")).pk

    assert [(name, args) for name, _fn, args in tasks.queued] == [("match-many", ([first, second],))]
    tasks.drain()
    assert sorted(WorkflowRun.objects.values_list("workflow_id", "event_id", "status")) == sorted(
        [(created.pk, first, RunStatus.COMPLETED), (shipped.pk, second, RunStatus.COMPLETED)]
    )


@pytest.mark.django_db
def test_capturing_on_commit_callbacks_sends_the_events_of_the_captured_block(
    tasks: TaskQueue, django_capture_on_commit_callbacks: Any
) -> None:
    make_workflow(CHECK, event="order.created")
    earlier = _emit(0)  # in the test's transaction, before the block: not captured, as before

    with django_capture_on_commit_callbacks(execute=True):
        ids = [_emit(1), _emit(2)]

    assert earlier not in ids
    assert [(name, args) for name, _fn, args in tasks.queued] == [("match-many", (ids,))]
