"""The orders page: who may see it, and changing a status through the shop's own service."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from heedful.inbox import shop
from heedful.inbox.models import Order
from heedful.workflows.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_engine")]


@pytest.fixture
def order() -> Order:
    return shop.upsert_order(
        {
            "number": "HF-1",
            "customer_email": "ben@example.com",
            "customer_name": "Ben Ode",
            "status": "packed",
        },
        source="tests",
    )[0]


def notices(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_employees_cannot_see_orders(employee_client: Client, order: Order) -> None:
    assert employee_client.get(reverse("inbox:orders")).status_code == 403
    response = employee_client.post(reverse("inbox:order-status", args=[order.pk]), {"status": "shipped"})
    assert response.status_code == 403
    assert Order.objects.get().status == "packed"


def test_an_agent_marks_an_order_shipped(agent_client: Client, order: Order) -> None:
    page = agent_client.get(reverse("inbox:orders")).content.decode()
    assert [v for v in ("shipped", "delayed", "delivered") if f'name="status" value="{v}"' in page] == [
        "shipped",
        "delayed",
        "delivered",
    ]

    response = agent_client.post(
        reverse("inbox:order-status", args=[order.pk]),
        {"status": "shipped", "carrier": "UPS", "expected_delivery": "2026-12-02"},
    )

    assert notices(response) == ["Order HF-1 marked shipped; the customer is told."]
    order.refresh_from_db()
    assert (order.status, order.carrier, str(order.expected_delivery)) == ("shipped", "UPS", "2026-12-02")
    assert Event.objects.get(name="order.shipped").source == "orders-page"


def test_a_bad_status_or_date_changes_nothing(agent_client: Client, order: Order) -> None:
    url = reverse("inbox:order-status", args=[order.pk])

    bad_status = agent_client.post(url, {"status": "cancelled"})
    bad_date = agent_client.post(url, {"status": "delayed", "expected_delivery": "next week"})

    assert notices(bad_status) == ["An order can be marked shipped, delayed, delivered here, not 'cancelled'"]
    assert notices(bad_date)[-1] == "“next week” is not a date (YYYY-MM-DD)."
    assert Order.objects.get().status == "packed"
    assert not Event.objects.filter(name__in=["order.shipped", "order.delayed"]).exists()
