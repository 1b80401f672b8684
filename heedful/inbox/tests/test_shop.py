"""Orders and products: CSV import, upsert by webhook, and personalised order updates."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from heedful.inbox import services, shop
from heedful.inbox.models import Author, Channel, Conversation, Delivery, Order, OrderUpdate, Product

pytestmark = pytest.mark.django_db
SECRET = "shop-secret"

ORDERS_CSV = (
    "number,customer_email,customer_name,postcode,status,carrier,tracking_url,expected_delivery,total\n"
    """hf-1,anna@example.com,Anna Berg,10115,shipped,DHL,https://track.example/1,2026-11-30,42.50
HF-2,ben@example.com,Ben Ode,SW1A 1AA,placed,,,,10
"""
)


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_orders_import_from_csv_without_emailing_anyone():
    assert shop.import_orders_csv(text=ORDERS_CSV) == 2

    assert list(Order.objects.order_by("number").values_list("number", "status", "postcode")) == [
        ("HF-1", "shipped", "10115"),
        ("HF-2", "placed", "SW1A 1AA"),
    ]
    assert Conversation.objects.count() == 0


def test_a_bad_csv_line_is_named_and_nothing_is_imported():
    with pytest.raises(ValidationError) as caught:
        shop.import_orders_csv(text=ORDERS_CSV + "HF-3,not-an-email,,,placed,,,,1\n")

    assert caught.value.messages[0].startswith("Line 4: ")
    assert Order.objects.count() == 0


def test_an_unquoted_comma_in_a_name_stops_the_import_instead_of_shifting_the_columns():
    shifted = "HF-3,cleo@example.com,Berg, Cleo,10115,placed,,,,5\n"

    with pytest.raises(ValidationError) as caught:
        shop.import_orders_csv(text=ORDERS_CSV + shifted)

    assert caught.value.messages == [
        "Line 4: more cells than the first line has columns; put text that contains commas in "
        "double quotes. Nothing was imported."
    ]
    assert Order.objects.count() == 0
    with pytest.raises(ValidationError):
        shop.import_products_csv(text="sku,name,stock\ntea-1,Sencha, green,3\n")


def test_products_import_from_csv():
    count = shop.import_products_csv(
        text="sku,name,stock,restock_date\ntea-1,Sencha,3,\ntea-2,Assam,0,2026-12-10\n"
    )

    assert count == 2
    assert list(Product.objects.order_by("sku").values_list("sku", "stock")) == [("TEA-1", 3), ("TEA-2", 0)]


def test_a_shipped_event_sends_one_personalised_email(no_engine, settings):
    settings.HEEDFUL_SHOP_WEBHOOK_SECRET = SECRET
    shop.import_orders_csv(text=ORDERS_CSV)
    body = json.dumps(
        {
            "orders": [
                {
                    "number": "HF-2",
                    "customer_email": "ben@example.com",
                    "status": "shipped",
                    "customer_name": "Ben Ode",
                    "carrier": "UPS",
                }
            ]
        }
    ).encode()

    first = Client().post(
        "/inbox/shop/webhook", body, content_type="application/json", HTTP_X_HEEDFUL_SIGNATURE=signed(body)
    )
    again = Client().post(
        "/inbox/shop/webhook", body, content_type="application/json", HTTP_X_HEEDFUL_SIGNATURE=signed(body)
    )

    assert (first.status_code, again.status_code) == (200, 200)
    update = OrderUpdate.objects.get()
    message = update.message
    assert message.body == (
        "Good news, Ben: your order HF-2 is on its way. Your order HF-2 is shipped. It travels with UPS."
    )
    assert (message.author_kind, message.delivery) == (Author.SYSTEM, Delivery.PENDING)
    assert message.conversation.channel == Channel.EMAIL
    assert message.conversation.customer_email == "ben@example.com"
    assert message.decision.output_summary == "Told the customer that order HF-2 is shipped"


def test_the_webhook_refuses_a_wrong_signature_and_changes_nothing(settings):
    settings.HEEDFUL_SHOP_WEBHOOK_SECRET = SECRET
    body = json.dumps({"orders": [{"number": "HF-9", "customer_email": "x@example.com"}]}).encode()

    response = Client().post(
        "/inbox/shop/webhook",
        body,
        content_type="application/json",
        HTTP_X_HEEDFUL_SIGNATURE=signed(body, "wrong"),
    )

    assert response.status_code == 403
    assert Order.objects.count() == 0


def test_a_webhook_body_over_the_upload_limit_gets_a_json_reason_and_changes_nothing(settings):
    settings.HEEDFUL_SHOP_WEBHOOK_SECRET = SECRET
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5_000
    orders = [{"number": f"HF-{i}", "customer_email": f"c{i}@example.com"} for i in range(200)]
    body = json.dumps({"orders": orders}).encode()

    response = Client().post(
        "/inbox/shop/webhook", body, content_type="application/json", HTTP_X_HEEDFUL_SIGNATURE=signed(body)
    )

    assert (response.status_code, response.json()) == (
        413,
        {"error": "The body is over 5,000 bytes; send the orders and products in smaller batches."},
    )
    assert Order.objects.count() == 0


def test_the_webhook_is_off_without_a_secret(settings):
    settings.HEEDFUL_SHOP_WEBHOOK_SECRET = ""
    body = b"{}"

    response = Client().post(
        "/inbox/shop/webhook",
        body,
        content_type="application/json",
        HTTP_X_HEEDFUL_SIGNATURE=signed(body, ""),
    )

    assert response.status_code == 403


def test_send_order_update_is_idempotent_per_key(no_engine):
    order = shop.upsert_order(
        {"number": "HF-5", "customer_email": "c@example.com", "status": "delayed"},
        source="tests",
        announce=False,
    )[0]

    first = services.send_order_update(order, "delayed", key="HF-5:delayed:1")
    second = services.send_order_update(order, "delayed", key="HF-5:delayed:1")

    assert first is not None
    assert second is None
    assert first.body.startswith("Sorry: your order HF-5 is delayed.")


@pytest.mark.parametrize(
    ("orders", "products", "said"),
    [
        (
            [{"number": "HF-9", "customer_email": "x@example.com", "total": "NaN"}],
            [],
            "'NaN' is not an amount",
        ),
        (
            [{"number": "HF-9", "customer_email": "x@example.com", "total": 1e30}],
            [],
            "1e+30 is not an amount",
        ),
        ([], [{"sku": "TEA-1", "stock": 10**12}], "1000000000000 is not a stock level"),
        ([], [{"sku": "TEA-1", "stock": 1e400}], "inf is not a whole number"),
    ],
)
def test_the_webhook_refuses_numbers_the_columns_cannot_hold(settings, orders, products, said):
    # Each was a 500 on PostgreSQL (SQLite stored them), and the shop would retry forever.
    settings.HEEDFUL_SHOP_WEBHOOK_SECRET = SECRET
    body = json.dumps({"orders": orders, "products": products}).encode()

    response = Client().post(
        "/inbox/shop/webhook", body, content_type="application/json", HTTP_X_HEEDFUL_SIGNATURE=signed(body)
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith(said)
    assert (Order.objects.count(), Product.objects.count()) == (0, 0)


def test_the_webhook_keeps_an_order_whose_text_carries_nul_characters(no_engine, settings):
    settings.HEEDFUL_SHOP_WEBHOOK_SECRET = SECRET
    order = {"number": "HF-7", "customer_email": "nul@example.com", "customer_name": "Ro\x00sa"}
    body = json.dumps(
        {"orders": [order], "products": [{"sku": "TEA-\x002", "name": "Green\x00 tea"}]}
    ).encode()

    response = Client().post(
        "/inbox/shop/webhook", body, content_type="application/json", HTTP_X_HEEDFUL_SIGNATURE=signed(body)
    )

    assert response.status_code == 200
    assert Order.objects.get(number="HF-7").customer_name == "Rosa"
    assert Product.objects.get(sku="TEA-2").name == "Green tea"
