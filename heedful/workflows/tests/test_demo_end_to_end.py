"""Done-when of the workflow engine, in the demo: an order marked shipped on the orders page
emails its customer through the gallery's workflow, and the email arrives at a real SMTP
server (aiosmtpd on loopback), with a decision record and a timeline entry. The event log
says, word for word, why a workflow did not fire.

Tasks run in-process here (``tasks`` drains them in order); the fault tests in
tests/workflows_faults/ run the same tasks in real worker processes.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from heedful.crm.models import Contact, TimelineEntry
from heedful.demo import load_demo
from heedful.governance.models import ActorKind, DecisionRecord
from heedful.inbox import shop
from heedful.inbox.models import Order, OrderStatus, OrderUpdate
from heedful.knowledge import matching
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
