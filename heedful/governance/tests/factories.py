from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from heedful.governance.models import ActorKind, DecisionRecord


class DecisionRecordFactory(DjangoModelFactory[DecisionRecord]):
    class Meta:
        model = DecisionRecord

    actor_kind = ActorKind.MODEL
    actor_name = "triage"
    actor_version = "3"
    subject_type = "contact"
    subject_id = factory.Sequence(lambda n: str(n + 1))
    subject_label = factory.Sequence(lambda n: f"Customer {n + 1}")
    inputs = factory.LazyFunction(lambda: {"message": "Where is my order?", "waited_hours": 26})
    output = factory.LazyFunction(lambda: {"sentiment": "negative"})
    output_summary = "Upset customer: needs a person today"
    confidence = 0.82
    factors = factory.LazyFunction(
        lambda: [
            {"text": "waited 26 h without a reply", "weight": 0.25},
            {"text": 'negative wording ("still", "refund")', "weight": 0.4},
            {"text": "a long-time customer", "weight": -0.1},
        ]
    )
