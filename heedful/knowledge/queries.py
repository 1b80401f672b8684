"""Reads for the knowledge pages."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from heedful.knowledge.models import FaqEntry

HAND_ANSWER_THRESHOLD = 3


def needing_attention() -> QuerySet[FaqEntry]:
    """Entries customers marked unhelpful, or that agents often answer by hand, worst first."""
    return (
        FaqEntry.objects.filter(
            Q(unhelpful_count__gt=0) | Q(answered_by_hand_count__gte=HAND_ANSWER_THRESHOLD)
        )
        .annotate(trouble=F("unhelpful_count") * 2 + F("answered_by_hand_count"))
        .order_by("-trouble", "question")
    )
