"""Demo data for the inbox and the knowledge base: the tea shop's FAQ, products, orders and a few
conversations, so a newcomer can chat on /inbox/widget-demo/ and get correct answers.

Idempotent: a second call finds the FAQ already there and does nothing. The project's
``heedful.demo.load_demo`` calls ``load_inbox_demo`` after it created the demo customers,
whose order history becomes real orders here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from heedful.crm.models import Contact
from heedful.inbox import services
from heedful.inbox.models import CannedResponse, Channel, Order, OrderStatus, Product
from heedful.knowledge.models import FaqEntry
from heedful.knowledge.services import create_faq_entry

FAQ = [
    (
        "How long does shipping take?",
        [
            "When will my parcel arrive?",
            "delivery time",
            "how many days until my tea arrives",
            "how fast do you ship",
            "when do you send out orders",
            "how long is delivery to Munich",
            "I ordered yesterday, when will it be here?",
        ],
        "We ship within one working day. Delivery in Germany takes 1–3 working days, "
        "to the rest of the EU 3–6.",
    ),
    (
        "Do you ship abroad?",
        [
            "Do you ship to Austria?",
            "international shipping",
            "can you send to Switzerland",
            "shipping countries",
            "do you deliver outside Germany",
            "how much is postage to the Netherlands",
            "is there free shipping",
        ],
        "We ship to every EU country and to Switzerland. Shipping is free from 40 €.",
    ),
    (
        "How do I return something?",
        [
            "return policy",
            "can I send it back",
            "I want a refund",
            "how do returns work",
            "the teapot I got is not what I expected, can I return it",
            "how do I get my money back for an item",
            "returning an order",
        ],
        "You can return unopened tea and any teaware within 30 days. Use the returns form in your account; "
        "we refund within 5 days of receiving it.",
    ),
    (
        "What are your opening hours?",
        [
            "when are you open",
            "opening times",
            "is the shop open on saturday",
            "when can I call you",
            "what time do you close",
            "are you open today",
            "phone hours",
        ],
        "Our shop in Berlin and our phone line are open Monday to Friday, 9:00–17:00.",
    ),
    (
        "Which payment methods do you accept?",
        [
            "can I pay with PayPal",
            "payment options",
            "do you take credit cards",
            "can I pay by invoice",
            "how can I pay",
            "do you accept Mastercard",
            "can I pay by bank transfer or direct debit",
        ],
        "We accept PayPal, credit cards, SEPA direct debit and, for business customers, invoices.",
    ),
    (
        "How should I brew green tea?",
        [
            "brewing instructions",
            "water temperature for sencha",
            "how long to steep green tea",
            "my green tea tastes bitter",
            "can I use boiling water for green tea",
            "how many times can I infuse the leaves",
        ],
        "Use water at 70–80 °C and steep for 1–2 minutes. Good green tea can be infused two or three times.",
    ),
    (
        "Can I change or cancel my order?",
        [
            "cancel my order",
            "change my order",
            "I ordered the wrong tea",
            "add something to my order",
            "I made a mistake in my order",
            "can I still change the delivery address",
            "please stop my order, I don't need it anymore",
        ],
        "Orders can be changed or cancelled until they are packed, usually within two hours. Reply to your "
        "order confirmation or ask for a person here.",
    ),
    (
        "Do you offer gift wrapping?",
        [
            "gift wrap",
            "can you wrap it as a present",
            "send as a gift",
            "it's a birthday present, can you pack it nicely",
            "can I add a personal message",
        ],
        "Yes: choose gift wrapping at checkout (3 €) and add a card with your message for free.",
    ),
    (
        "Is your tea organic?",
        [
            "organic tea",
            "do you sell bio tea",
            "are your teas certified",
            "is the darjeeling organic",
            "are pesticides used on your tea",
            "which teas have the organic label",
        ],
        "Most of our teas are certified organic (EU organic logo, DE-ÖKO-006); each product page says which.",
    ),
    (
        "How should I store tea?",
        [
            "how to keep tea fresh",
            "storing loose leaf tea",
            "does tea expire",
            "how long does tea keep after opening",
            "should I put tea in the fridge",
            "best before date of green tea",
        ],
        "Keep tea airtight, dark, cool and away from strong smells; green tea is best within 6 months of "
        "opening, black tea within a year.",
    ),
    (
        "Do you have discount codes?",
        [
            "discount code",
            "any coupons",
            "do you have a loyalty programme",
            "is there a voucher for the first order",
            "newsletter discount",
            "do you have sales",
        ],
        "Sign up for our newsletter for 10 % off your first order; every 10th order gets a free 50 g sample.",
    ),
    (
        "Do you sell wholesale?",
        [
            "trade prices",
            "we are a café and want to buy tea",
            "bulk order for our office",
            "wholesale price list",
            "do you supply restaurants",
            "buying large quantities",
        ],
        "We supply cafés, restaurants and offices at trade prices from 2 kg; write to wholesale@example.com "
        "for the price list.",
    ),
    (
        "Where is your shop?",
        [
            "shop address",
            "can I visit you",
            "where are you located",
            "can I pick up my order in Berlin",
            "how do I get to your store",
            "click and collect",
        ],
        "Our shop is at Kastanienallee 12, 10435 Berlin (U2 Eberswalder Straße); you can also collect "
        "online orders there.",
    ),
]
PRODUCTS = [
    ("DARJ-FF", "Darjeeling First Flush", 24),
    ("SEN-KAG", "Sencha Kagoshima", 3),
    ("ASS-BRK", "Assam Breakfast", 60),
    ("ROO-VAN", "Rooibos Vanilla", 0),
    ("JAS-PRL", "Jasmine Pearls", 12),
    ("POT-IRON", "Cast-iron teapot", 5),
    ("INF-GLS", "Glass infuser", 40),
]
CANNED = [
    (
        "Sorry for the wait",
        "wait",
        'Hello {{ customer.first_name|default:"there" }},\n\nsorry for the wait, and thank you for your '
        "patience.",
    ),
    (
        "Where is my order",
        "order",
        'Hello {{ customer.first_name|default:"there" }},\n\nyour order {{ order.number|default:"" }} is '
        '{{ order.status|default:"on its way" }}. You will find the tracking link in your shipping email.',
    ),
    (
        "Sign-off",
        "bye",
        "If there is anything else, just reply to this email.\n\nKind regards,\n{{ agent.first_name }} "
        "from {{ business.name }}",
    ),
]
STATUS = {
    "delivered": OrderStatus.DELIVERED,
    "shipped": OrderStatus.SHIPPED,
    "processing": OrderStatus.PACKED,
}


@transaction.atomic
def load_inbox_demo(now: datetime) -> str:
    if FaqEntry.objects.exists():
        return "inbox demo already loaded"
    for question, variants, answer in FAQ:
        create_faq_entry(question=question, variants=variants, answer=answer, automation="demo")
    for sku, name, stock in PRODUCTS:
        Product.objects.create(
            sku=sku,
            name=name,
            stock=stock,
            restock_date=(now + timedelta(days=12)).date() if not stock else None,
        )
    for title, shortcut, body in CANNED:
        CannedResponse.objects.get_or_create(shortcut=shortcut, defaults={"title": title, "body": body})
    orders = _orders_from_demo_customers(now)
    conversations = _conversations(now)
    return (
        f"{len(FAQ)} FAQ entries, {len(PRODUCTS)} products, {len(CANNED)} canned responses, "
        f"{orders} orders, {conversations} conversations"
    )


def _orders_from_demo_customers(now: datetime) -> int:
    count = 0
    for contact in Contact.objects.filter(source="demo").prefetch_related("timeline"):
        for entry in contact.timeline.all():
            if entry.kind != "order" or "order" not in entry.data:
                continue
            status = STATUS.get(entry.data.get("status", ""), OrderStatus.PLACED)
            number = str(entry.data["order"])
            Order.objects.get_or_create(
                number=number,
                defaults={
                    "customer_email": contact.email,
                    "customer_name": f"{contact.first_name} {contact.last_name}".strip(),
                    "postcode": getattr(contact, "postcode", "") or "",
                    "status": status,
                    "carrier": "DHL" if status != OrderStatus.PLACED else "",
                    "tracking_url": f"https://www.dhl.de/track?piececode=00340{number}"
                    if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
                    else "",
                    "total": Decimal(str(entry.data.get("total", 0))),
                    "placed_at": entry.occurred_at,
                },
            )
            count += 1
    return count


def _conversations(now: datetime) -> int:
    customers = list(Contact.objects.filter(source="demo").order_by("pk")[:3])
    texts = [
        "This is the third time I write: my order STILL hasn't arrived and nobody answers!!",
        "Hello, can I get the Jasmine Pearls as a gift for my mother?",
        "Do you have a discount for cafés buying in bulk?",
    ]
    for contact, text in zip(customers, texts, strict=False):
        conversation = services.start_conversation(
            channel=Channel.EMAIL,
            customer_email=contact.email,
            customer_name=f"{contact.first_name} {contact.last_name}",
            subject=text[:60],
        )
        services.receive_customer_message(conversation=conversation, body=text, bot=False)
        services.hand_off(conversation, reason="demo: waiting for a person")
        conversation.save()
    return len(customers)
