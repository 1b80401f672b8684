from __future__ import annotations

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from heedful.inbox.models import Channel, Conversation, Order, OrderStatus, Product


class ConversationFactory(DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    channel = Channel.CHAT


class OrderFactory(DjangoModelFactory[Order]):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"HF-{10000 + n}")
    customer_email = "anna@example.com"
    customer_name = "Anna Berg"
    postcode = "10115"
    status = OrderStatus.SHIPPED
    carrier = "DHL"
    tracking_url = factory.LazyAttribute(lambda o: f"https://track.example/{o.number}")
    total = Decimal("42.00")


class ProductFactory(DjangoModelFactory[Product]):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"TEA-{n:03d}")
    name = factory.Sequence(lambda n: f"Tea {n}")
    stock = 10
