"""The crm and order services emit the catalogue's events, exactly, and only on commit.

Each test names the events a change must record, in order, with their subjects; payloads
are checked key for key against the catalogue's examples.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client

from heedful.crm import services as crm
from heedful.crm.models import Contact, TimelineEntry
from heedful.inbox import shop
from heedful.inbox.models import Order, OrderUpdate
from heedful.knowledge.tests.fixtures import no_engine
from heedful.workflows import gallery
from heedful.workflows.catalogue import CATALOGUE
from heedful.workflows.models import Consideration, Event, OutboxMessage, WorkflowRun
from heedful.workflows.tests.conftest import TaskQueue
from heedful.workflows.tests.factories import email_step, make_workflow

# The built-in order email opens a conversation; the text engine is not needed for that.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_engine")]
__all__ = ["no_engine"]
SECRET = "shop-secret"


def shape(value: Any) -> Any:
    """The nested key structure of a payload (values left out)."""
    if isinstance(value, dict):
        return {key: shape(inner) for key, inner in value.items()}
    return None


def recorded() -> list[tuple[str, str]]:
    """(event name, subject label) of every event, in the order they were recorded."""
    return [(e.name, e.subject_label) for e in Event.objects.order_by("pk")]


def assert_catalogue_shapes() -> None:
    for event in Event.objects.all():
        assert shape(event.payload) == shape(CATALOGUE[event.name].example), event.name


def post_webhook(orders: list[dict[str, Any]]) -> int:
    body = json.dumps({"orders": orders}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = Client().post(
        "/inbox/shop/webhook", body, content_type="application/json", HTTP_X_HEEDFUL_SIGNATURE=signature
    )
    return response.status_code


@pytest.fixture
def shop_secret(settings: Any) -> None:
    settings.HEEDFUL_SHOP_WEBHOOK_SECRET = SECRET


# --- crm ----------------------------------------------------------------------------------


def test_creating_a_contact_emits_contact_created() -> None:
    contact = crm.create_contact(email="Rosa@Example.com", first_name="Rosa", source="api")

    event = Event.objects.get()
    assert (event.name, event.subject_type, event.subject_id, event.subject_label) == (
        "contact.created",
        "contact",
        str(contact.pk),
        "Rosa",
    )
    assert event.payload == {
        "contact": {"id": contact.pk, "email": "rosa@example.com", "first_name": "Rosa"},
        "source": "api",
    }
    assert_catalogue_shapes()


@transaction.atomic
def create_then_fail(email: str) -> None:
    crm.create_contact(email=email)
    raise RuntimeError("the caller's transaction fails after the contact was made")


def test_a_refused_or_rolled_back_contact_emits_nothing() -> None:
    crm.create_contact(email="rosa@example.com")
    with pytest.raises(ValidationError):
        crm.create_contact(email="ROSA@example.com")
    with pytest.raises(RuntimeError):
        create_then_fail("sami@example.com")

    assert recorded() == [("contact.created", "rosa@example.com")]


def test_a_csv_import_emits_contact_created_for_new_contacts_only(owner: Any) -> None:
    crm.create_contact(email="old@example.com", first_name="Olga")
    csv = "email,first_name\nold@example.com,Olga\nnew1@example.com,Nia\nnew2@example.com,Noor\n"

    report = crm.import_contacts_csv(file=io.BytesIO(csv.encode()), user=owner, all_or_nothing=True)

    assert (report.created, report.updated) == (2, 1)
    assert recorded() == [
        ("contact.created", "Olga"),
        ("contact.created", "Nia"),
        ("contact.created", "Noor"),
    ]
    assert [e.payload["source"] for e in Event.objects.order_by("pk")] == ["manual", "csv", "csv"]
    assert_catalogue_shapes()


def test_capturing_a_lead_emits_lead_created_and_contact_created_when_new() -> None:
    lead = crm.capture_lead(email="lena@example.com", first_name="Lena", source="web_form", score=62)
    again = crm.capture_lead(email="lena@example.com", source="webinar")

    assert recorded() == [
        ("contact.created", "Lena"),
        ("lead.created", "Lena"),
        ("lead.created", "Lena"),
    ]
    first, second = Event.objects.filter(name="lead.created").order_by("pk")
    assert first.payload["lead"] == {"id": lead.id, "source": "web_form", "score": 62}
    assert second.payload["lead"] == {"id": again.id, "source": "webinar", "score": None}
    entry = TimelineEntry.objects.get(pk=lead.id)
    assert (entry.kind, entry.title, entry.data) == (
        "lead",
        "Lead captured (web_form)",
        {"source": "web_form", "score": 62},
    )
    assert_catalogue_shapes()


def test_a_lead_with_a_bad_score_is_refused_and_emits_nothing() -> None:
    with pytest.raises(ValidationError) as caught:
        crm.capture_lead(email="lena@example.com", score=140)

    assert caught.value.message_dict == {"score": ["A lead score is from 0 to 100."]}
    assert (Event.objects.count(), Contact.objects.count()) == (0, 0)


def test_a_customer_is_onboarded_once() -> None:
    contact = crm.create_contact(email="rosa@example.com", first_name="Rosa")

    first = crm.mark_customer_onboarded(contact=contact, reason="signed contract", source="by-hand")
    second = crm.mark_customer_onboarded(contact=contact, reason="first order A-1", source="by-hand")

    assert (first, second) == (True, False)
    assert recorded() == [("contact.created", "Rosa"), ("customer.onboarded", "Rosa")]
    assert Event.objects.get(name="customer.onboarded").payload["reason"] == "signed contract"
    assert list(contact.timeline.filter(title__startswith="Became").values_list("title", flat=True)) == [
        "Became a customer: signed contract"
    ]
    assert_catalogue_shapes()


# --- orders -------------------------------------------------------------------------------


def test_the_shop_webhook_emits_created_then_each_status_change_once(shop_secret: None) -> None:
    order = {
        "number": "hf-1",
        "customer_email": "ben@example.com",
        "customer_name": "Ben Ode",
        "total": "230",
    }

    assert post_webhook([order]) == 200
    assert post_webhook([{**order, "status": "shipped", "carrier": "UPS"}]) == 200
    assert post_webhook([{**order, "status": "shipped", "carrier": "UPS"}]) == 200  # sent twice
    assert post_webhook([{**order, "status": "delayed", "expected_delivery": "2026-12-03"}]) == 200
    assert post_webhook([{**order, "status": "delivered"}]) == 200

    assert recorded() == [
        ("contact.created", "Ben Ode"),
        ("order.created", "Ben Ode"),
        ("customer.onboarded", "Ben Ode"),
        ("order.shipped", "Ben Ode"),
        ("order.delayed", "Ben Ode"),
        ("order.delivered", "Ben Ode"),
    ]
    contact = Contact.objects.get()
    delayed = Event.objects.get(name="order.delayed")
    assert delayed.payload == {
        "contact": {"id": contact.pk, "email": "ben@example.com", "first_name": "Ben"},
        "order": {
            "id": Order.objects.get().pk,
            "number": "HF-1",
            "status": "delayed",
            "total": "230.00",
            "carrier": "",
            "tracking_url": "",
            "new_eta": "2026-12-03",
        },
        "source": "shop-webhook",
    }
    assert Event.objects.get(name="customer.onboarded").payload["reason"] == "first order HF-1"
    assert_catalogue_shapes()


def test_a_second_order_does_not_onboard_again_and_one_already_delivered_is_history(
    shop_secret: None,
) -> None:
    assert post_webhook([{"number": "HF-1", "customer_email": "ben@example.com"}]) == 200
    assert (
        post_webhook([{"number": "HF-2", "customer_email": "ben@example.com", "status": "delivered"}]) == 200
    )

    assert recorded() == [
        ("contact.created", "ben@example.com"),
        ("order.created", "ben@example.com"),
        ("customer.onboarded", "ben@example.com"),
        ("order.created", "ben@example.com"),
    ]


def test_a_refused_webhook_emits_nothing(shop_secret: None) -> None:
    good = {"number": "HF-1", "customer_email": "ben@example.com", "status": "shipped"}
    bad = {"number": "HF-2", "customer_email": "ben@example.com", "status": "lost"}

    assert post_webhook([good, bad]) == 400

    assert (Event.objects.count(), Order.objects.count(), Contact.objects.count()) == (0, 0, 0)


def test_the_rest_upsert_emits_the_same_events(owner: Any, api_client_for: Any) -> None:
    api = api_client_for(owner)
    order = {"number": "HF-7", "customer_email": "cy@example.com", "customer_name": "Cy", "status": "placed"}

    assert api.post("/api/v1/inbox/orders/", order, format="json").status_code == 201
    assert api.post("/api/v1/inbox/orders/", {**order, "status": "shipped"}, format="json").status_code == 200

    assert recorded() == [
        ("contact.created", "Cy"),
        ("order.created", "Cy"),
        ("customer.onboarded", "Cy"),
        ("order.shipped", "Cy"),
    ]
    assert {e.source for e in Event.objects.filter(name__startswith="order.")} == {"api:olivia@example.com"}


def test_a_csv_import_is_recorded_as_history() -> None:
    shop.import_orders_csv(
        text="number,customer_email,customer_name,status\nHF-1,anna@example.com,Anna Berg,shipped\n"
    )

    assert recorded() == [
        ("contact.created", "Anna Berg"),
        ("order.created", "Anna Berg"),
        ("customer.onboarded", "Anna Berg"),
        ("order.shipped", "Anna Berg"),
    ]
    assert {e.payload["source"] for e in Event.objects.exclude(name="contact.created")} == {"csv-import"}


def test_marking_an_order_shipped_by_hand_goes_through_the_same_service(owner: Any) -> None:
    order, _created = shop.upsert_order(
        {"number": "HF-3", "customer_email": "di@example.com"}, source="tests"
    )

    shop.set_order_status(order, "shipped", user=owner, carrier="DHL", tracking_url="https://t.example/3")
    with pytest.raises(ValidationError):
        shop.set_order_status(order, "placed", user=owner)

    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_url) == ("shipped", "DHL", "https://t.example/3")
    shipped = Event.objects.get(name="order.shipped")
    assert (shipped.source, shipped.payload["source"], shipped.payload["order"]["carrier"]) == (
        "orders-page",
        "orders-page",
        "DHL",
    )


# --- who tells the customer: the built-in email or a workflow, never both ----------------


@pytest.mark.django_db(transaction=True)
def test_without_an_enabled_workflow_the_built_in_email_tells_the_customer(
    shop_secret: None, tasks: TaskQueue
) -> None:
    gallery.install_template("order-shipped", user=None, enabled=False)

    post_webhook([{"number": "HF-1", "customer_email": "ben@example.com", "status": "shipped"}])
    tasks.drain()

    assert list(OrderUpdate.objects.values_list("event", flat=True)) == ["shipped"]
    assert (WorkflowRun.objects.count(), OutboxMessage.objects.count()) == (0, 0)
    assert Consideration.objects.get(event__name="order.shipped").reason == "The workflow is off"


@pytest.mark.django_db(transaction=True)
def test_an_enabled_workflow_takes_over_the_order_email(
    shop_secret: None, tasks: TaskQueue, auto_email: None
) -> None:
    gallery.install_template("order-shipped", user=None)

    post_webhook([{"number": "HF-1", "customer_email": "ben@example.com", "status": "shipped"}])
    tasks.drain()

    assert OrderUpdate.objects.count() == 0
    [email] = OutboxMessage.objects.all()
    assert (email.status, email.payload["to"], email.payload["subject"]) == (
        "sent",
        ["ben@example.com"],
        "Your order HF-1 is on its way",
    )


@pytest.mark.django_db(transaction=True)
def test_an_imported_shipment_starts_no_workflow_and_the_event_log_says_why(
    tasks: TaskQueue, auto_email: None
) -> None:
    gallery.install_template("order-shipped", user=None)

    shop.import_orders_csv(text="number,customer_email,status\nHF-1,anna@example.com,shipped\n")
    tasks.drain()

    assert (WorkflowRun.objects.count(), OutboxMessage.objects.count(), OrderUpdate.objects.count()) == (
        0,
        0,
        0,
    )
    assert Consideration.objects.get(event__name="order.shipped").reason == (
        'Conditions not met: event.source is not "csv-import": it is "csv-import" → no'
    )


@pytest.mark.django_db(transaction=True)
def test_a_workflow_whose_conditions_do_not_match_leaves_the_order_to_the_built_in_email(
    shop_secret: None, tasks: TaskQueue, auto_email: None
) -> None:
    only_dhl = [{"path": "event.order.carrier", "op": "equals", "value": "DHL"}]
    make_workflow(email_step(), conditions=only_dhl)

    post_webhook(
        [{"number": "HF-1", "customer_email": "ben@example.com", "status": "shipped", "carrier": "UPS"}]
    )
    dhl = {"status": "shipped", "carrier": "DHL", "tracking_url": "https://t.example/2"}
    post_webhook([{"number": "HF-2", "customer_email": "ben@example.com", **dhl}])
    tasks.drain()

    assert list(OrderUpdate.objects.values_list("order__number", flat=True)) == ["HF-1"]
    assert [m.payload["subject"] for m in OutboxMessage.objects.all()] == ["Order HF-2 is on its way"]
