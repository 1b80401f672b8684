"""Orders and products from the shop system: CSV import, upsert (REST API and webhook), and
a person changing an order's status on the orders page.

Every change goes through ``upsert_order`` and emits the catalogue's events in its
transaction: ``order.created`` for a new order (and ``customer.onboarded`` for a customer's
first), and ``order.shipped`` / ``order.delayed`` / ``order.delivered`` when the status moves
there. The order's customer becomes a contact if they were not one, so the events are about
a contact.

Who tells the customer: a workflow when an enabled one starts on that event (the gallery's
"Order shipped: tell the customer" and friends), otherwise the built-in
``services.send_order_update``. The choice is made per event inside the transaction, so
one change is told once, never by both. A CSV import is history and tells nobody: its
events carry ``"source": "csv-import"``, which the gallery's order templates skip.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from heedful.crm import services as crm
from heedful.crm.models import Contact
from heedful.governance.services import Subject, record_audit
from heedful.inbox import services
from heedful.inbox.models import Order, OrderStatus, Product
from heedful.storable import storable
from heedful.workflows.events import emit_event, has_enabled_listener

if TYPE_CHECKING:
    from heedful.accounts.models import User

ANNOUNCED = {
    OrderStatus.SHIPPED: "shipped",
    OrderStatus.DELAYED: "delayed",
    OrderStatus.DELIVERED: "delivered",
}
# What a person may set on the orders page (the rest comes from the shop system).
SETTABLE = (OrderStatus.SHIPPED, OrderStatus.DELAYED, OrderStatus.DELIVERED)
IMPORT_SOURCE = "csv-import"


MAX_TOTAL = Decimal(10) ** 10  # Order.total: max_digits=12, decimal_places=2
MAX_STOCK = 2**31 - 1  # Product.stock: an IntegerField


def _text(data: Mapping[str, Any], key: str, limit: int) -> str:
    # storable: a NUL from a shop system failed the whole webhook on PostgreSQL, again at each retry.
    return storable(str(data.get(key) or "")).strip()[:limit]


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
    # The column holds 12 digits, 2 after the point; NaN or 1e30 failed in PostgreSQL.
    if not total.is_finite() or abs(total) >= MAX_TOTAL:
        raise ValidationError(f"{data.get('total')!r} is not an amount below {MAX_TOTAL:,}")
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


def order_payload(order: Order, contact: Contact, source: str) -> dict[str, Any]:
    """An order event's payload; its keys are the catalogue's (heedful/workflows/catalogue.py)."""
    return {
        "contact": crm.event_contact(contact),
        "order": {
            "id": order.pk,
            "number": order.number,
            "status": order.status,
            "total": f"{Decimal(order.total):.2f}",
            "carrier": order.carrier,
            "tracking_url": order.tracking_url,
            "new_eta": order.expected_delivery.isoformat() if order.expected_delivery else "",
        },
        "source": source,
    }


def _emit_order_events(
    order: Order, *, before: str | None, source: str, announce: bool, user: User | None
) -> None:
    contact, _new = crm.find_or_create_contact_by_email(
        email=order.customer_email, name=order.customer_name, source="shop", user=user, automation=source
    )
    payload = order_payload(order, contact, source)
    about = Subject.of(contact, "contact")
    if before is None:
        emit_event("order.created", payload, about, source=source)
        if not Order.objects.filter(customer_email=order.customer_email).exclude(pk=order.pk).exists():
            crm.mark_customer_onboarded(
                contact=contact,
                reason=f"first order {order.number}",
                source=source,
                user=user,
                automation=source,
            )
    word = ANNOUNCED.get(OrderStatus(order.status))
    # A new order that arrives already delivered is history, not news.
    if word is None or (before is None and word == "delivered"):
        return
    name = f"order.{word}"
    emit_event(name, payload, about, source=source)
    if announce and not has_enabled_listener(name, payload, about):
        services.send_order_update(order, word, key=f"{order.number}:{word}:{timezone.now().isoformat()}")


@transaction.atomic
def upsert_order(
    data: Mapping[str, Any], *, source: str, announce: bool = True, user: User | None = None
) -> tuple[Order, bool]:
    """Create or update the order ``data["number"]``; returns (order, created).

    A status change emits its event; ``announce=False`` (an import of history) keeps the
    built-in email quiet as well.
    """
    number = _text(data, "number", 64).upper()
    if not number:
        raise ValidationError("An order needs a number")
    fields = _order_fields(data)
    before = Order.objects.filter(number=number).values_list("status", flat=True).first()
    order, created = Order.objects.update_or_create(number=number, defaults=fields)
    if before != order.status:
        record_audit(
            action="inbox.order.upsert",
            user=user,
            automation="" if user else source,
            obj=order,
            changes={"status": [before, order.status]},
        )
        # A webhook sent twice carries the same status and so emits nothing the second time.
        _emit_order_events(order, before=before, source=source, announce=announce, user=user)
    return order, created


@transaction.atomic
def set_order_status(
    order: Order,
    status: str,
    *,
    user: User,
    carrier: str = "",
    tracking_url: str = "",
    expected_delivery: date | None = None,
) -> Order:
    """A person marks an order shipped, delayed or delivered (the orders page); the same
    path as the shop's webhook, so the customer is told exactly as they would be then."""
    if status not in SETTABLE:
        raise ValidationError(
            f"An order can be marked {', '.join(str(s) for s in SETTABLE)} here, not {status!r}"
        )
    locked = Order.objects.select_for_update().get(pk=order.pk)
    data: dict[str, Any] = {
        "number": locked.number,
        "customer_email": locked.customer_email,
        "customer_name": locked.customer_name,
        "postcode": locked.postcode,
        "status": status,
        "carrier": carrier.strip() or locked.carrier,
        "tracking_url": tracking_url.strip() or locked.tracking_url,
        "expected_delivery": (expected_delivery or locked.expected_delivery or "")
        and str(expected_delivery or locked.expected_delivery),
        "total": locked.total,
        "placed_at": locked.placed_at.isoformat(),
    }
    updated, _created = upsert_order(data, source="orders-page", user=user)
    return updated


@transaction.atomic
def upsert_product(data: Mapping[str, Any], *, source: str) -> tuple[Product, bool]:
    sku = _text(data, "sku", 64).upper()
    if not sku:
        raise ValidationError("A product needs a SKU")
    try:
        stock = int(data.get("stock") or 0)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{data.get('stock')!r} is not a whole number") from None
    if not -MAX_STOCK <= stock <= MAX_STOCK:  # an integer column: PostgreSQL refused the rest
        raise ValidationError(f"{stock} is not a stock level (at most {MAX_STOCK:,})")
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
def import_orders_csv(*, text: str, source: str = IMPORT_SOURCE) -> int:
    """Columns: number, customer_email, customer_name, postcode, status, carrier, tracking_url,
    expected_delivery, total, placed_at. Importing history never emails customers."""
    count = 0
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        _refuse_extra_cells(row, line)
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
        _refuse_extra_cells(row, line)
        try:
            upsert_product(row, source=source)
        except ValidationError as exc:
            raise ValidationError(f"Line {line}: {'; '.join(exc.messages)}") from None
        count += 1
    return count


def _refuse_extra_cells(row: dict[Any, Any], line: int) -> None:
    """An unquoted comma ("Berg, Anna") shifts every later cell into the wrong column (the
    postcode would read "Anna"), and the last cells were dropped without a word."""
    if None in row:
        raise ValidationError(
            f"Line {line}: more cells than the first line has columns; put text that contains "
            "commas in double quotes. Nothing was imported."
        )


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """``X-Heedful-Signature: sha256=<hex HMAC of the raw body>``, compared in constant time."""
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))
