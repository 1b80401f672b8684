"""With the crm app: a shipped order emails the real contact and lands on the timeline."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from heedful.crm.models import TimelineEntry
from heedful.crm.services import create_contact
from heedful.governance.models import ActionPolicy
from heedful.governance.services import Subject
from heedful.workflows.events import emit_event
from heedful.workflows.models import RunStatus, WorkflowRun
from heedful.workflows.tests.conftest import TaskQueue
from heedful.workflows.tests.factories import make_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_shipped_order_emails_the_contact_and_writes_the_timeline(
    tasks: TaskQueue, auto_email: None
) -> None:
    contact = create_contact(email="rosa@example.com", first_name="Rosa")
    make_workflow()
    emit_event(
        "order.shipped",
        {"order": {"number": "A-7", "tracking_url": "https://t.example/7"}},
        Subject.of(contact, "contact"),
    )
    tasks.drain()

    run = WorkflowRun.objects.get()
    assert run.status == RunStatus.COMPLETED
    [message] = mail.outbox
    assert (message.to, message.body) == (["rosa@example.com"], "Hi Rosa, track it at https://t.example/7.")
    entry = TimelineEntry.objects.get(contact=contact, source="workflows")
    assert (entry.kind, entry.title) == ("workflow", "Email from a workflow: Order A-7 is on its way")
    assert (entry.ref_type, entry.ref_id, entry.actor_automation) == (
        "workflow_run",
        str(run.pk),
        "workflow:shipped",
    )


def test_tagging_goes_through_the_crm_action_and_its_policy(tasks: TaskQueue) -> None:
    contact = create_contact(email="sami@example.com", first_name="Sami")
    ActionPolicy.objects.create(action_type="crm.add_tag", mode="auto")
    make_workflow({"id": "vip", "type": "action", "action": "tag", "params": {"tag": "shipped-once"}})
    emit_event("order.shipped", {"order": {"number": "A-8"}}, Subject.of(contact, "contact"))
    tasks.drain()
    assert list(contact.tags.values_list("name", flat=True)) == ["shipped-once"]
    assert WorkflowRun.objects.get().status == RunStatus.COMPLETED


def test_the_contact_today_wins_over_what_the_event_said(tasks: TaskQueue, auto_email: None) -> None:
    contact = create_contact(email="new@example.com", first_name="Rosa")
    make_workflow()
    emit_event(
        "order.shipped",
        {"contact": {"email": "old@example.com"}, "order": {"number": "A-9", "tracking_url": "x"}},
        Subject.of(contact, "contact"),
    )
    tasks.drain()
    assert mail.outbox[0].to == ["new@example.com"]


NAMED_ROSA = [{"path": "contact.first_name", "op": "equals", "value": "Rosa"}]


def _check(step_id: str, conditions: list[dict[str, object]]) -> dict[str, object]:
    return {"id": step_id, "type": "condition", "conditions": conditions}


@pytest.mark.parametrize("together", [False, True], ids=["alone", "in-one-transaction"])
def test_conditions_naming_the_contact_read_crm_as_it_is_now(tasks: TaskQueue, together: bool) -> None:
    rosa = create_contact(email="rosa@example.com", first_name="Rosa")
    make_workflow(_check("named", NAMED_ROSA), event="order.created", conditions=NAMED_ROSA)

    with transaction.atomic():
        # The event still says Ros; crm says Rosa, and crm wins in the trigger and in the step.
        emit_event("order.created", {"contact": {"first_name": "Ros"}}, Subject.of(rosa, "contact"))
        if together:
            emit_event("order.created", {"contact": {"first_name": "Ros"}}, Subject.of(rosa, "contact"))
    tasks.drain()

    runs = WorkflowRun.objects.all()
    assert [run.status for run in runs] == [RunStatus.COMPLETED] * (2 if together else 1)
    assert {run.context["steps"]["named"]["passed"] for run in runs} == {True}


@pytest.mark.parametrize("together", [False, True], ids=["alone", "in-one-transaction"])
def test_a_workflow_never_naming_the_contact_does_not_look_it_up(tasks: TaskQueue, together: bool) -> None:
    rosa = create_contact(email="rosa@example.com", first_name="Rosa")
    by_number = [{"path": "event.n", "op": "gte", "value": 0}]
    make_workflow(_check("a", by_number), _check("b", by_number), event="order.created", conditions=by_number)
    with transaction.atomic():
        emit_event("order.created", {"n": 1}, Subject.of(rosa, "contact"))
        if together:
            emit_event("order.created", {"n": 2}, Subject.of(rosa, "contact"))

    with CaptureQueriesContext(connection) as captured:
        tasks.drain()

    assert set(WorkflowRun.objects.values_list("status", flat=True)) == {RunStatus.COMPLETED}
    assert [q["sql"] for q in captured if "crm_contact" in q["sql"]] == []
