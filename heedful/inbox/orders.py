"""Order status and stock answers, with ownership checks.

The bot tells an order's status only to the customer who owns it: by the sender's address on
email; by the order number plus the order's email address or postcode in chat. A wrong number
and somebody else's number get the *same* reply, so the bot never reveals that an order exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from heedful.inbox.models import Channel, Order, OrderStatus, Product

_ORDER_QUESTION = re.compile(
    r"\b(where('?s| is)? (is )?my (order|parcel|package|delivery)|order status|status of (my )?order|"
    r"track(ing)?( number| link)?|has my order|my order|not (arrived|received)|shipped yet)\b",
    re.IGNORECASE,
)
_STOCK_QUESTION = re.compile(
    r"\b(in stock|out of stock|back in stock|sold out|availab(le|ility)|do you (still )?have)\b",
    re.IGNORECASE,
)
_ORDER_NUMBER = re.compile(r"(?<![\w@.-])#?([A-Za-z]{0,4}-?\d{4,12})(?![\w@-])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

NOT_MATCHED = (
    "I couldn't match that order number with those details. Please check the order number and the "
    "email address or postcode you ordered with, or ask for a person."
)


def is_order_question(text: str) -> bool:
    return bool(_ORDER_QUESTION.search(text))


def is_stock_question(text: str) -> bool:
    return bool(_STOCK_QUESTION.search(text))


def order_numbers_in(text: str) -> list[str]:
    return [m.group(1).upper() for m in _ORDER_NUMBER.finditer(text)]


def ask_for_details(channel: str) -> str:
    if channel == Channel.EMAIL:
        return "I can look that up. Please reply with your order number."
    return (
        "I can look that up. Please send your order number together with the email address or "
        "postcode you ordered with."
    )


@dataclass(frozen=True)
class OrderLookup:
    order: Order | None
    numbers: list[str]
    proof: str  # how ownership was shown, in words; "" when it was not


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def find_owned_order(*, texts: Iterable[str], channel: str, sender_email: str) -> OrderLookup:
    """The order the asker named *and* owns, or None; never an order they do not own."""
    joined = "\n".join(texts)
    numbers = list(dict.fromkeys(order_numbers_in(joined)))
    if not numbers:
        if channel == Channel.EMAIL and sender_email:
            latest = Order.objects.filter(customer_email__iexact=sender_email).order_by("-placed_at").first()
            return OrderLookup(latest, [], "the latest order of the sender's email address" if latest else "")
        return OrderLookup(None, [], "")
    emails = {e.lower() for e in _EMAIL.findall(joined)}
    compact = _compact(joined)
    for order in Order.objects.filter(number__in=numbers):
        if channel == Channel.EMAIL:
            if sender_email and order.customer_email.lower() == sender_email.lower():
                return OrderLookup(order, numbers, "the order belongs to the sender's email address")
            continue
        if order.customer_email.lower() in emails:
            return OrderLookup(order, numbers, "order number and the order's email address given")
        postcode = _compact(order.postcode)
        if (
            postcode
            and postcode != order.number.lower()
            and postcode in compact.replace(order.number.lower(), "")
        ):
            return OrderLookup(order, numbers, "order number and the order's postcode given")
    return OrderLookup(None, numbers, "")


def describe_order(order: Order) -> str:
    parts = [f"Your order {order.number} is {order.get_status_display().lower()}."]
    if order.status == OrderStatus.DELAYED:
        parts.append("We're sorry it is taking longer than planned.")
    if order.carrier:
        parts.append(f"It travels with {order.carrier}.")
    if order.expected_delivery and order.status != OrderStatus.DELIVERED:
        parts.append(f"Expected delivery: {order.expected_delivery:%A %-d %B}.")
    if order.tracking_url:
        parts.append(f"Track it here: {order.tracking_url}")
    return " ".join(parts)


def product_in_question(text: str) -> Product | None:
    """The one product the question names (by SKU or full name); None when none or several."""
    lowered = text.lower()
    found = [
        p
        for p in Product.objects.only("pk", "sku", "name", "stock", "restock_date")
        if p.sku.lower() in lowered or (p.name and p.name.lower() in lowered)
    ]
    return found[0] if len(found) == 1 else None


def describe_stock(product: Product) -> str:
    if product.stock > 0:
        few = f" (only {product.stock} left)" if product.stock < 5 else ""
        return f"Yes, {product.name} is in stock{few}."
    if product.restock_date:
        return (
            f"{product.name} is out of stock right now; we expect it back on {product.restock_date:%-d %B}."
        )
    return f"{product.name} is out of stock right now, and we don't have a date for new stock yet."
