"""Orders and products from the shop system: CSV import, upsert (REST API and webhook).

An order whose status moves to shipped, delayed or delivered tells its customer, once per
change, through ``services.send_order_update`` (the workflow action will call the same service).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from heedful.governance.services import record_audit
from heedful.inbox import services
from heedful.inbox.models import Order, OrderStatus, Product

ANNOUNCED = {
    OrderStatus.SHIPPED: "shipped",
    OrderStatus.DELAYED: "delayed",
    OrderStatus.DELIVERED: "delivered",
}


def _text(data: Mapping[str, Any], key: str, limit: int) -> str:
    return str(data.get(key) or "").strip()[:limit]


def _date(value: Any) -> date | None:
    if not value:
        return None
    parsed = parse_date(str(value))
    if parsed is None:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)")
    return parsed


def _order_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    email = _text(data, "customer_email", 254).lower()
    validate_email(email)
    status = _text(data, "status", 10).lower() or OrderStatus.PLACED
    if status not in OrderStatus.values:
        raise ValidationError(f"Unknown order status {status!r}; use one of {', '.join(OrderStatus.values)}")
    try:
        total = Decimal(str(data.get("total") or "0"))
    except InvalidOperation:
        raise ValidationError(f"{data.get('total')!r} is not an amount") from None
    fields: dict[str, Any] = {
        "customer_email": email,
        "customer_name": _text(data, "customer_name", 200),
        "postcode": _text(data, "postcode", 20),
        "status": status,
        "carrier": _text(data, "carrier", 100),
        "tracking_url": _text(data, "tracking_url", 200),
        "expected_delivery": _date(data.get("expected_delivery")),
        "total": total,
    }
    placed = data.get("placed_at")
    if placed:
        when = parse_datetime(str(placed))
        if when is None:
            raise ValidationError(f"{placed!r} is not a date and time")
        fields["placed_at"] = when
    return fields


@transaction.atomic
def upsert_order(data: Mapping[str, Any], *, source: str, announce: bool = True) -> tuple[Order, bool]:
    """Create or update the order ``data["number"]``; returns (order, created)."""
    number = _text(data, "number", 64).upper()
    if not number:
        raise ValidationError("An order needs a number")
    fields = _order_fields(data)
    before = Order.objects.filter(number=number).values_list("status", flat=True).first()
    order, created = Order.objects.update_or_create(number=number, defaults=fields)
    if before != order.status:
        record_audit(
            action="inbox.order.upsert",
            automation=source,
            obj=order,
            changes={"status": [before, order.status]},
        )
        event = ANNOUNCED.get(OrderStatus(order.status))
        # A webhook sent twice carries the same status and so announces nothing the second time;
        # a new order that arrives already delivered is history, not news.
        if announce and event and (before is not None or event != "delivered"):
            services.send_order_update(
                order, event, key=f"{order.number}:{event}:{timezone.now().isoformat()}"
            )
    return order, created


@transaction.atomic
def upsert_product(data: Mapping[str, Any], *, source: str) -> tuple[Product, bool]:
    sku = _text(data, "sku", 64).upper()
    if not sku:
        raise ValidationError("A product needs a SKU")
    try:
        stock = int(data.get("stock") or 0)
    except (TypeError, ValueError):
        raise ValidationError(f"{data.get('stock')!r} is not a whole number") from None
    product, created = Product.objects.update_or_create(
        sku=sku,
        defaults={
            "name": _text(data, "name", 200) or sku,
            "stock": stock,
            "restock_date": _date(data.get("restock_date")),
        },
    )
    return product, created


@transaction.atomic
def import_orders_csv(*, text: str, source: str = "csv-import") -> int:
    """Columns: number, customer_email, customer_name, postcode, status, carrier, tracking_url,
    expected_delivery, total, placed_at. Importing history never emails customers."""
    count = 0
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            upsert_order(row, source=source, announce=False)
        except ValidationError as exc:
            raise ValidationError(f"Line {line}: {'; '.join(exc.messages)}") from None
        count += 1
    return count


@transaction.atomic
def import_products_csv(*, text: str, source: str = "csv-import") -> int:
    """Columns: sku, name, stock, restock_date."""
    count = 0
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            upsert_product(row, source=source)
        except ValidationError as exc:
            raise ValidationError(f"Line {line}: {'; '.join(exc.messages)}") from None
        count += 1
    return count


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """``X-Heedful-Signature: sha256=<hex HMAC of the raw body>``, compared in constant time."""
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))
