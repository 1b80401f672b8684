"""Done-when of the workflow engine, in the demo: an order marked shipped on the orders page
emails its customer through the gallery's workflow, and the email arrives at a real SMTP
server (aiosmtpd on loopback), with a decision record and a timeline entry. The event log
says, word for word, why a workflow did not fire. The gallery's CSAT workflow asks a
resolved conversation's customer once, an hour later, in place of the inbox's own question.

Tasks run in-process here (``tasks`` drains them in order); the fault tests in
tests/workflows_faults/ run the same tasks in real worker processes.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from heedful.accounts.models import User
from heedful.crm.models import Contact, TimelineEntry
from heedful.demo import load_demo
from heedful.governance.models import ActorKind, DecisionRecord, ProposalStatus, ProposedAction
from heedful.inbox import mail_out, queries, shop
from heedful.inbox import tasks as inbox_tasks
from heedful.inbox.models import Conversation, CsatRequest, Order, OrderStatus, OrderUpdate, Status
from heedful.knowledge import matching
from heedful.workflows import services
from heedful.workflows.models import Event, OutboxMessage, RunStatus, WorkflowDefinition, WorkflowRun
from heedful.workflows.tests.conftest import TaskQueue
from tests.workflows_faults.harness import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sink(settings: Any, tmp_path: Path) -> Iterator[SmtpSink]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line
    server = SmtpSink().start()
    settings.DATA_DIR = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    matching.forget_trained()
    try:
        yield server
    finally:
        server.stop()
        matching.forget_trained()


@pytest.fixture
def demo(sink: SmtpSink, tasks: TaskQueue) -> None:
    # A fixed weekday morning: the people demo books leave relative to "now".
    load_demo(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    tasks.drain()


def packed_order() -> Order:
    """A demo order still in the warehouse, whose customer is a demo contact."""
    return Order.objects.filter(status=OrderStatus.PACKED).order_by("number").first() or pytest.fail(
        "the demo has no packed order"
    )


def reasons_on_event_log(client: Client, event: Event) -> list[str]:
    """The skip reasons the event log page shows for one event, as a reader sees them."""
    body = client.get(reverse("workflows:events")).content.decode()
    row = re.search(rf'<tr id="event-{event.pk}">(.*?)</tr>', body, re.S)
    assert row is not None, f"event #{event.pk} is not on the event log"
    return [html.unescape(text) for text in re.findall(r'<span class="why">(.*?)</span>', row.group(1))]


def test_marking_a_demo_order_shipped_emails_the_customer_through_the_workflow(
    demo: None, sink: SmtpSink, tasks: TaskQueue, owner_client: Client
) -> None:
    order = packed_order()
    contact = Contact.objects.get(email=order.customer_email)
    updates_before = OrderUpdate.objects.count()
    page = owner_client.get(reverse("inbox:orders"), {"q": order.number}).content.decode()
    assert f'id="order-{order.number}"' in page
    assert 'name="status" value="shipped"' in page

    response = owner_client.post(
        reverse("inbox:order-status", args=[order.pk]),
        {"status": "shipped", "carrier": "DHL", "tracking_url": f"https://track.example/{order.number}"},
    )
    tasks.drain()

    assert response.status_code == 302
    run = WorkflowRun.objects.get(workflow__template_key="order-shipped")
    assert (run.status, run.subject_type, run.subject_id) == (RunStatus.COMPLETED, "contact", str(contact.pk))
    [message] = sink.messages
    assert message["To"] == order.customer_email
    assert message["Subject"] == f"Your order {order.number} is on its way"
    assert message.get_payload(decode=True).decode().replace("\r\n", "\n") == (
        f"Hi {contact.first_name},\n\ngood news: order {order.number} has left us.\n"
        f"Track it here: https://track.example/{order.number}\n\nThank you for your order!\n"
    )
    outbox = OutboxMessage.objects.get(run=run)
    assert (outbox.status, message["Message-ID"]) == ("sent", outbox.payload["message_id"])
    decision = DecisionRecord.objects.get(actor_kind=ActorKind.WORKFLOW, inputs__run_id=run.pk)
    assert (decision.subject_type, decision.subject_id, decision.output_summary) == (
        "contact",
        str(contact.pk),
        f"Email {order.customer_email}: Your order {order.number} is on its way",
    )
    entry = TimelineEntry.objects.get(contact=contact, source="workflows")
    assert (entry.title, entry.ref_type, entry.ref_id) == (
        f"Email from a workflow: Your order {order.number} is on its way",
        "workflow_run",
        str(run.pk),
    )
    # The workflow told the customer, so the built-in order email did not.
    assert OrderUpdate.objects.count() == updates_before


def test_the_event_log_says_why_a_demo_workflow_did_not_fire(
    demo: None, sink: SmtpSink, tasks: TaskQueue, owner_client: Client
) -> None:
    delayed = WorkflowDefinition.objects.get(template_key="order-delayed")
    owner_client.post(reverse("workflows:toggle", args=[delayed.pk]))
    order = packed_order()
    owner_client.post(reverse("inbox:order-status", args=[order.pk]), {"status": "delayed"})
    shop.import_orders_csv(text="number,customer_email,status\nHF-9001,old@example.com,shipped\n")
    tasks.drain()

    assert reasons_on_event_log(owner_client, Event.objects.get(name="order.delayed")) == [
        "The workflow is off"
    ]
    assert reasons_on_event_log(owner_client, Event.objects.get(name="order.shipped")) == [
        'Conditions not met: event.source is not "csv-import": it is "csv-import" → no'
    ]
    # With its workflow off, the built-in order email told the customer about the delay instead.
    assert list(OrderUpdate.objects.filter(order=order).values_list("event", flat=True)) == ["delayed"]
    assert (WorkflowRun.objects.count(), sink.messages) == (0, [])


@pytest.fixture
def inbox_tasks_queued(monkeypatch: pytest.MonkeyPatch, tasks: TaskQueue) -> None:
    """The inbox's email and CSAT tasks go into the test's queue too, so its email reaches the sink."""
    monkeypatch.setattr(
        inbox_tasks, "send_email_task", tasks.fake("inbox-email", mail_out.send_message_email)
    )
    monkeypatch.setattr(inbox_tasks, "send_csat_task", tasks.fake("inbox-csat", inbox_tasks.send_csat_task))


def answered_demo_conversation(client: Client, tasks: TaskQueue) -> Conversation:
    """A demo customer's email conversation that an agent has answered (the answer is sent)."""
    conversation = Conversation.objects.filter(status=Status.OPEN, contact__isnull=False).order_by(
        "pk"
    ).first() or pytest.fail("the demo has no open conversation with a contact")
    client.post(reverse("inbox:reply", args=[conversation.pk]), {"body": "It left us this morning."})
    tasks.drain()
    return conversation


def csat_emails(sink: SmtpSink) -> list[Any]:
    return [m for m in sink.messages if "/inbox/csat/" in m.get_payload(decode=True).decode()]


def test_the_csat_workflow_asks_a_resolved_demo_conversation_once_an_hour_later(
    demo: None,
    sink: SmtpSink,
    tasks: TaskQueue,
    inbox_tasks_queued: None,
    owner_client: Client,
    agent_client: Client,
) -> None:
    workflow = WorkflowDefinition.objects.get(template_key="csat-after-resolution")
    owner_client.post(reverse("workflows:toggle", args=[workflow.pk]), {"enabled": "1"})
    conversation = answered_demo_conversation(agent_client, tasks)
    contact = Contact.objects.get(pk=conversation.contact_id)

    agent_client.post(reverse("inbox:resolve", args=[conversation.pk]))

    # The workflow will ask, so the inbox's own question at resolution stands down.
    assert "inbox-csat" not in tasks.names()
    tasks.drain()
    run = WorkflowRun.objects.get(workflow=workflow)
    assert (run.status, run.subject_type, run.subject_id) == (RunStatus.WAITING, "contact", str(contact.pk))
    assert (CsatRequest.objects.count(), csat_emails(sink)) == (0, [])

    assert services.sweep(timezone.now() + timedelta(minutes=59))["runs"] == 0
    assert services.sweep(timezone.now() + timedelta(hours=1, minutes=1))["runs"] == 1
    tasks.drain()

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    question = CsatRequest.objects.get(conversation=conversation)
    # The demo handed the conversation to Jakob; Ana answered it for him; the rating counts for him.
    jakob = User.objects.get(email="jakob@demo.heedful.local")
    assert (conversation.assignee, question.agent) == (jakob, jakob)
    proposal = ProposedAction.objects.get(action_type="inbox.ask_csat")
    assert (proposal.status, proposal.policy_mode, proposal.params) == (
        ProposalStatus.DONE,
        "auto",
        {
            "conversation_id": conversation.pk,
            "workflow_run_id": run.pk,
            "workflow": workflow.slug,
        },
    )
    assert proposal.result["summary"] == f"Asked how conversation #{conversation.pk} went"
    [email] = csat_emails(sink)
    assert email["To"] == conversation.customer_email
    body = email.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert body.startswith(f"Hello {contact.first_name},\n\nwe marked your conversation with ")
    links = re.findall(r"http://\S+/inbox/csat/\S+/\d/", body)
    assert [link.rsplit("/", 2)[-2] for link in links] == ["5", "4", "3", "2", "1"]

    # Nothing asks again: another sweep, and the inbox's own task if it ran after all.
    services.sweep(timezone.now() + timedelta(hours=3))
    inbox_tasks.send_csat_task.delay(conversation.pk)
    tasks.drain()
    assert (len(csat_emails(sink)), CsatRequest.objects.count()) == (1, 1)

    page = Client().get(urlsplit(links[0]).path)
    assert page.status_code == 200
    question.refresh_from_db()
    assert (question.rating, question.agent) == (5, jakob)
    [row], _overall = queries.csat_results(user=jakob, days=30)
    assert (row.agent, row.sent, row.answered, row.average) == (jakob, 1, 1, 5.0)


def test_with_the_csat_workflow_off_the_inbox_asks_at_resolution_itself(
    demo: None, sink: SmtpSink, tasks: TaskQueue, inbox_tasks_queued: None, agent_client: Client
) -> None:
    conversation = answered_demo_conversation(agent_client, tasks)

    agent_client.post(reverse("inbox:resolve", args=[conversation.pk]))
    tasks.drain()

    assert WorkflowRun.objects.filter(workflow__template_key="csat-after-resolution").count() == 0
    assert CsatRequest.objects.filter(conversation=conversation).count() == 1
    assert len(csat_emails(sink)) == 1
