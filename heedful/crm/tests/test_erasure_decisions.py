"""Erasing a contact leaves nothing of them in decisions, proposals, workflows or the log (promise 4).

Rosa (and Ben, made the same way, who must not change) has what ``test_erasure_audit`` gives
a person, plus what reaches the person through other objects: a chat in which she typed her
address before anyone knew who she was (the chat's events are labelled with her words), an
order with its update, and a workflow run about the order that asked to email her. Every text
and JSON field of every row the trust spine and the workflows keep is searched for her.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import models

from heedful.accounts.models import User
from heedful.crm import services as crm
from heedful.crm.models import Contact
from heedful.crm.tests.test_erasure_audit import BEN, ROSA, ROSAS_DATA, _person
from heedful.governance.models import AuditEvent, DecisionRecord, ProposedAction
from heedful.governance.services import Subject
from heedful.inbox import chat
from heedful.inbox import services as inbox
from heedful.inbox.tests.factories import OrderFactory
from heedful.workflows import services as workflows
from heedful.workflows.events import emit_event
from heedful.workflows.models import (
    Consideration,
    Event,
    OutboxMessage,
    StepRun,
    WorkflowDefinition,
    WorkflowRun,
    WorkflowTask,
)
from heedful.workflows.tests.factories import email_step, make_workflow

pytestmark = pytest.mark.django_db

SEARCHED: list[type[models.Model]] = [
    ProposedAction,
    DecisionRecord,
    AuditEvent,
    Event,
    WorkflowRun,
    StepRun,
    Consideration,
    OutboxMessage,
    WorkflowTask,
]
ROSAS_MORE = ["hf-20001", "where is my teapot order"]
BENS = ["ben", "ott", "hf-30001", "mug", "ben@new.test"]


def _text_fields(model: type[models.Model]) -> list[str]:
    kinds = (models.CharField, models.TextField, models.JSONField)
    return [f.name for f in model._meta.get_fields() if isinstance(f, kinds)]


def _held() -> dict[str, list[dict[str, Any]]]:
    """Every text and JSON field of every row of the searched tables, by table and id."""
    return {
        model.__name__: list(model.objects.order_by("pk").values("pk", *_text_fields(model)))  # type: ignore[attr-defined]
        for model in SEARCHED
    }


def _found(words: list[str]) -> dict[str, list[str]]:
    """Which of ``words`` each searched table still holds, in any row and field."""
    found = {}
    for table, rows in _held().items():
        text = json.dumps(rows, default=str, ensure_ascii=False).lower()
        if hits := [word for word in words if word in text]:
            found[table] = hits
    return found


def _everything_about(
    contact: Contact, *, email: str, number: str, typed: str, workflow: WorkflowDefinition
) -> None:
    """The chat, the order, its update and the workflow run that reach the person by other objects."""
    session = chat.start_visitor_session(origin="https://shop.example")
    chat.post_visitor_message(visitor=session.visitor, text=f"{typed} {number}, my email is {email}")
    order = OrderFactory.create(number=number, customer_email=email, customer_name=str(contact))
    inbox.send_order_update(order, "shipped")
    event = emit_event(
        "order.shipped",
        {
            "contact": {"email": email, "first_name": contact.first_name},
            "order": {"number": number, "tracking_url": f"https://t.example/{number}"},
        },
        Subject("order", str(order.pk), f"{number} for {contact}"),
    )
    # Matched and run here: the test's transaction never commits, so no task would.
    for run_id in workflows.match_event(event.pk):
        workflows.advance_run(run_id)


@pytest.fixture
def workflow() -> WorkflowDefinition:
    task = {
        "id": "task",
        "type": "action",
        "action": "create_task",
        "params": {
            "title": "Ring {{ contact.first_name }} about {{ event.order.number }}",
            "notes": "Shipped",
        },
    }
    return make_workflow(task, email_step(), name="Shipped")


@pytest.fixture
def rosa(agent: User, manager: User, workflow: WorkflowDefinition) -> Contact:
    contact = _person(**ROSA, agent=agent, manager=manager)
    _everything_about(
        contact,
        email="rosa.diaz@new.test",
        number="HF-20001",
        typed="where is my teapot order",
        workflow=workflow,
    )
    return contact


@pytest.fixture
def ben(agent: User, manager: User, workflow: WorkflowDefinition) -> Contact:
    contact = _person(**BEN, agent=agent, manager=manager)
    _everything_about(
        contact, email="ben@new.test", number="HF-30001", typed="where is the mug", workflow=workflow
    )
    return contact


def _changed(before: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Rows per table whose text or JSON changed since ``before`` (new rows not counted)."""
    after = _held()
    counts = {}
    for table, rows in before.items():
        now = {row["pk"]: row for row in after[table]}
        counts[table] = sum(1 for row in rows if now.get(row["pk"]) != row)
    return counts


def _mentioning(held: dict[str, list[dict[str, Any]]], words: list[str]) -> dict[str, list[dict[str, Any]]]:
    return {
        table: [row for row in rows if any(w in json.dumps(row, default=str).lower() for w in words)]
        for table, rows in held.items()
    }


def test_no_decision_proposal_workflow_row_or_audit_event_holds_anything_of_the_erased_person(
    rosa: Contact, ben: Contact, manager: User
) -> None:
    words = ROSAS_DATA + ROSAS_MORE
    # Everywhere before: the search finds what it looks for.
    assert sorted(_found(words)) == [
        "AuditEvent",
        "DecisionRecord",
        "Event",
        "ProposedAction",
        "StepRun",
        "WorkflowRun",
        "WorkflowTask",
    ]

    crm.erase_contact(contact=rosa, user=manager)

    assert _found(words) == {}


def test_bens_rows_do_not_change(rosa: Contact, ben: Contact, manager: User) -> None:
    before = _held()
    bens = _mentioning(before, BENS)
    assert _mentioning(bens, ROSAS_DATA + ROSAS_MORE) == {table: [] for table in bens}
    assert {table: len(rows) for table, rows in bens.items()} == {
        "ProposedAction": 5,
        "DecisionRecord": 4,
        "AuditEvent": 18,
        "Event": 5,
        "WorkflowRun": 1,
        "StepRun": 2,
        "Consideration": 0,  # "Started run #2"
        "OutboxMessage": 0,
        "WorkflowTask": 1,
    }

    crm.erase_contact(contact=rosa, user=manager)

    after = {table: {row["pk"]: row for row in rows} for table, rows in _held().items()}
    assert {table: [after[table].get(row["pk"]) for row in rows] for table, rows in bens.items()} == bens
    waiting = ProposedAction.objects.filter(status="pending").order_by("pk")
    assert [(p["action_type"], p["subject_label"]) for p in waiting.values()] == [
        ("crm.add_tag", "Ben Ott"),
        ("workflows.send_email", "HF-30001 for Ben Ott"),
    ]


def test_the_report_counts_exactly_the_rows_the_erasure_changed(
    rosa: Contact, ben: Contact, manager: User
) -> None:
    before = _held()
    preview = crm.erasure_preview(rosa)
    assert _changed(before) == dict.fromkeys(before, 0)

    report = crm.erase_contact(contact=rosa, user=manager)

    assert report.rows == preview.rows
    rows = report.rows
    assert {k: v for k, v in rows.items() if not k.startswith("inbox.")} == {
        "crm.contacts": 1,
        "crm.decisions_anonymised": 1,  # the automation's note
        "crm.notes": 2,
        "crm.proposals_anonymised": 3,  # the note done, the tag rejected, the tag waiting
        "crm.proposals_withdrawn": 1,
        "crm.tag_links": 2,
        "crm.timeline": 6,
        "governance.audit_events_redacted": 19,
        "workflows.decisions_anonymised": 0,  # the run's are about the order: the inbox's
        "workflows.emails": 0,
        "workflows.emails_not_sent": 0,
        "workflows.events": 5,  # contact.created, her conversations' (the chat's too), the order's
        "workflows.proposals_anonymised": 0,
        "workflows.proposals_withdrawn": 0,
        "workflows.runs": 1,
        "workflows.runs_cancelled": 1,  # waiting for the email's approval
        "workflows.tasks": 1,
    }
    assert {k: v for k, v in rows.items() if k.startswith("inbox.") and v} == {
        "inbox.chat_visitors": 1,
        "inbox.conversations": 3,  # the email, the chat, the order update
        "inbox.decisions_anonymised": 3,  # the chat answer, the order update, the run's task
        "inbox.messages": 5,
        "inbox.order_updates": 1,
        "inbox.orders": 1,
        "inbox.proposals_anonymised": 2,  # the run's task and email
        "inbox.proposals_withdrawn": 1,  # the email
    }
    kinds = ("decisions_anonymised", "proposals_anonymised")
    decisions, proposals = (
        sum(rows[f"{app}.{kind}"] for app in ("crm", "inbox", "workflows")) for kind in kinds
    )
    assert _changed(before) == {
        "ProposedAction": proposals,
        "DecisionRecord": decisions,
        "AuditEvent": rows["governance.audit_events_redacted"],
        "Event": rows["workflows.events"],
        "WorkflowRun": rows["workflows.runs"],
        "StepRun": 2,  # the run's two steps
        "Consideration": 0,  # "Started run #1" says nothing about her
        "OutboxMessage": rows["workflows.emails"],
        "WorkflowTask": rows["workflows.tasks"],
    }


def test_the_decision_approval_and_workflow_pages_show_her_scrubbed_rows(
    rosa: Contact, ben: Contact, manager: User, owner_client: Any
) -> None:
    hers = list(DecisionRecord.objects.filter(subject_label__icontains="rosa").values_list("pk", flat=True))
    run = WorkflowRun.objects.get(subject_label__contains="Rosa")
    crm.erase_contact(contact=rosa, user=manager)
    urls = [
        *(f"/trust/decisions/{pk}/" for pk in hers),
        "/trust/decisions/",
        "/trust/approvals/",
        f"/workflows/runs/{run.pk}/",
        "/workflows/events/",
    ]

    pages = [owner_client.get(url) for url in urls]

    assert len(hers) == 4
    assert [page.status_code for page in pages] == [200] * len(urls)
    html = "\n".join(page.content.decode() for page in pages).lower()
    assert [word for word in ROSAS_DATA + ROSAS_MORE if word in html] == []
    assert ("<h1>(erased)</h1>" in html, "ben ott" in html) == (True, True)
