"""Believable demo data: a small online tea shop, its customers and its team.

Loading is idempotent: a second call finds the demo's marker and does nothing.
Every automated action the demo contains is proposed through the approval queue
with a decision record, exactly as a real automation would do it.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from heedful.accounts.models import User
from heedful.accounts.roles import Role
from heedful.crm import services as crm
from heedful.crm.models import Contact
from heedful.governance import services as trust
from heedful.governance.models import ActorKind
from heedful.inbox.demo import load_inbox_demo
from heedful.people.demo import load_people_demo
from heedful.people.models import Employee, Team
from heedful.workflows.demo import load_workflows_demo

SEED = 7
DEMO_SOURCE = "demo"

FIRST = [
    "Amelia",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemi",
    "Lars",
    "Maya",
    "Noor",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Adler",
    "Baker",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jansen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nowak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Weber",
]
PRODUCTS = [
    ("Darjeeling First Flush", 18.5),
    ("Sencha Kagoshima", 14.0),
    ("Assam Breakfast", 9.5),
    ("Rooibos Vanilla", 8.0),
    ("Jasmine Pearls", 22.0),
    ("Cast-iron teapot", 49.0),
    ("Glass infuser", 12.0),
]
COMPANIES = ["Café Morgenrot", "Hotel Seeblick", "Büro Lindqvist", "Yoga Loft", ""]
ROUTINE_QUESTIONS = [
    ("Where is my order {order}?", "order-status", 0.93),
    ("Do you ship to Austria?", "shipping-countries", 0.97),
    ("Is the Jasmine Pearls tea back in stock?", "stock", 0.88),
    ("How long does delivery take?", "delivery-times", 0.95),
    ("Can I change my delivery address?", "change-address", 0.91),
]
UPSET_MESSAGES = [
    "This is the third time I'm asking. My order {order} still hasn't arrived and nobody answers!",
    "The teapot arrived broken. I want a refund, not another form to fill in.",
    "I was charged twice for order {order}. Please sort this out today.",
]
TEAMS = {
    "Shop & Packing": [
        ("Lena", "Vogel", "Team lead"),
        ("Marco", "Silva", "Packer"),
        ("Aisha", "Khan", "Packer"),
        ("Tom", "Berg", "Warehouse"),
    ],
    "Online & Care": [
        ("Sofia", "Marin", "Customer care lead"),
        ("Jakob", "Horn", "Customer care"),
        ("Nina", "Park", "Marketing"),
        ("Ole", "Brandt", "Web shop"),
    ],
}


def _demo_loaded() -> bool:
    return Contact.objects.filter(source=DEMO_SOURCE).exists()


@transaction.atomic
def load_demo(now: datetime | None = None) -> str:
    """Load the demo; returns one line saying what was loaded (or that it already was)."""
    if _demo_loaded():
        return "demo data already loaded"
    rng = random.Random(SEED)  # noqa: S311 - demo content, not security
    now = now or timezone.now()
    staff = _load_staff()
    contacts = _load_customers(rng, now)
    decisions = _load_automation(rng, now, contacts)
    inbox, people, workflows = load_inbox_demo(now), load_people_demo(now), load_workflows_demo()
    # Counted last: the people demo hires a new employee and adds a small team.
    summary = (
        f"demo data loaded: {len(contacts)} customers, {Employee.objects.count()} employees in "
        f"{Team.objects.count()} teams, {staff} staff accounts, {decisions} automated decisions"
    )
    return f"{summary}; {inbox}; {people}; {workflows}"


def _load_staff() -> int:
    created = 0
    for email, first, role in [
        ("sofia@demo.heedful.local", "Sofia", Role.MANAGER),
        ("jakob@demo.heedful.local", "Jakob", Role.AGENT),
    ]:
        user, was_created = User.objects.get_or_create(
            email=email, defaults={"username": email, "first_name": first, "role": role}
        )
        if was_created:
            user.set_unusable_password()  # no default passwords: the owner invites them for real
            user.save(update_fields=["password"])
            created += 1
    start = date(2021, 3, 1)
    for team_name, members in TEAMS.items():
        team = Team.objects.create(name=team_name)
        for i, (first, last, title) in enumerate(members):
            employee = Employee.objects.create(
                first_name=first,
                last_name=last,
                email=f"{first.lower()}@demo.heedful.local",
                job_title=title,
                team=team,
                start_date=start + timedelta(days=97 * i + 40 * len(team_name)),
                region="DE-BE",
            )
            if i == 0:
                team.manager = employee
                team.save(update_fields=["manager"])
        linked = Employee.objects.filter(email__in=User.objects.values("email"))
        for employee in linked:
            employee.user = User.objects.get(email=employee.email)
            employee.save(update_fields=["user"])
    return created


def _load_customers(rng: random.Random, now: datetime) -> list[tuple[Contact, int]]:
    """Customers with their order history; returns each with the number of its latest order."""
    contacts: list[tuple[Contact, int]] = []
    used: set[str] = set()
    order_no = 10400
    while len(contacts) < 50:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}@example.com".lower()
        if email in used:
            continue
        used.add(email)
        contact = crm.create_contact(
            email=email,
            first_name=first,
            last_name=last,
            company_name=rng.choice(COMPANIES),
            postcode=f"{rng.randint(10115, 14199)}",
            attributes={"newsletter": rng.random() < 0.4},
            automation="demo",
            source=DEMO_SOURCE,
        )
        for _ in range(rng.randint(1, 4)):
            order_no += rng.randint(1, 9)
            product, price = rng.choice(PRODUCTS)
            qty = rng.randint(1, 3)
            crm.add_timeline_entry(
                contact=contact,
                kind="order",
                title=f"Order #{order_no}: {qty} × {product}",
                data={
                    "order": order_no,
                    "total": round(qty * price, 2),
                    "status": rng.choice(["delivered", "delivered", "shipped", "processing"]),
                },
                occurred_at=now - timedelta(days=rng.randint(1, 300), hours=rng.randint(0, 23)),
                source="demo",
                automation="demo",
            )
        contacts.append((contact, order_no))
    return contacts


def _load_automation(rng: random.Random, now: datetime, contacts: list[tuple[Contact, int]]) -> int:
    """Bot answers, triage scores and proposals, each with its decision record."""
    decisions = 0
    for contact, last_order in contacts[:30]:
        question, entry, confidence = rng.choice(ROUTINE_QUESTIONS)
        text = question.format(order=f"#{last_order}")
        at = now - timedelta(hours=rng.randint(1, 72))
        crm.add_timeline_entry(
            contact=contact,
            kind="message",
            title="Chat message",
            body=text,
            occurred_at=at,
            source="demo",
            automation="demo",
        )
        decision = trust.record_decision(
            actor_kind=ActorKind.BOT,
            actor_name="faq-matcher",
            actor_version="demo-1",
            subject=trust.Subject.of(contact, "contact"),
            inputs={"message": text},
            output={"entry": entry},
            output_summary=f"Answered with FAQ entry '{entry}'",
            confidence=confidence,
            factors=[
                {"text": f"closest question variant matched at {confidence:.0%}", "weight": confidence},
                {"text": "above the answer threshold of 80 %", "weight": 0.8},
            ],
            outcome="answer sent",
        )
        crm.add_timeline_entry(
            contact=contact,
            kind="decision",
            title=f"Bot answered: {entry}",
            data={"decision_id": decision.pk, "factors": decision.factors},
            occurred_at=at + timedelta(seconds=2),
            source="demo",
            automation="faq-matcher",
        )
        decisions += 1
    for i, (contact, last_order) in enumerate(contacts[30:36]):
        text = UPSET_MESSAGES[i % len(UPSET_MESSAGES)].format(order=f"#{last_order}")
        at = now - timedelta(hours=rng.randint(2, 30))
        crm.add_timeline_entry(
            contact=contact,
            kind="message",
            title="Email",
            body=text,
            occurred_at=at,
            source="demo",
            automation="demo",
        )
        waited = int((now - at).total_seconds() // 3600)
        decision = trust.record_decision(
            actor_kind=ActorKind.MODEL,
            actor_name="triage",
            actor_version="demo-1",
            subject=trust.Subject.of(contact, "contact"),
            inputs={"message": text, "waited_hours": waited},
            output={"sentiment": "negative", "frustration": 0.82},
            output_summary="Upset customer: needs a person today",
            confidence=0.82,
            factors=[
                {"text": 'negative wording ("still", "nobody answers", "refund")', "weight": 0.4},
                {"text": f"waited {waited} h without a reply", "weight": 0.25},
                {"text": "repeat contact this week", "weight": 0.17},
            ],
        )
        trust.propose_action(
            action_type="crm.add_tag",
            params={"contact_id": contact.pk, "tag_name": "needs-attention"},
            explanation="Triage scored this customer as upset; tagging them puts them on today's list.",
            proposed_by="triage",
            subject=trust.Subject.of(contact, "contact"),
            decision=decision,
            idempotency_key=f"demo:tag:{contact.pk}",
        )
        decisions += 1
    for contact, _last_order in contacts[36:40]:
        decision = trust.record_decision(
            actor_kind=ActorKind.RULE,
            actor_name="first-order-welcome",
            actor_version="1",
            subject=trust.Subject.of(contact, "contact"),
            inputs={"orders": 1},
            output={"note": "first order"},
            output_summary="First order: note for the team",
            factors=[{"text": "this is the customer's first order", "weight": 1.0}],
        )
        trust.propose_action(
            action_type="crm.add_note",
            params={
                "contact_id": contact.pk,
                "body": "First order — a handwritten thank-you card goes in the parcel.",
            },
            explanation="Rule 'first-order-welcome' fired.",
            proposed_by="rule:first-order-welcome",
            subject=trust.Subject.of(contact, "contact"),
            decision=decision,
            idempotency_key=f"demo:note:{contact.pk}",
        )
        decisions += 1
    return decisions
