"""Reads for the knowledge pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from heedful.knowledge.matching import training_examples
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


@dataclass(frozen=True)
class SharedPhrasing:
    """One way of asking that several active entries claim."""

    phrasing: str
    entries: list[FaqEntry]


def shared_phrasings() -> list[SharedPhrasing]:
    """Phrasings written, word for word, for more than one active entry.

    The FAQ bot answers a question written as in the knowledge base with that phrasing's entry
    (heedful.ml.faq); when two entries hold the same words it cannot tell which, the model
    weighs the two, and such a question is usually handed to a person. An import of plain
    question,answer rows next to entries with variants makes this easily."""
    from heedful.ml.text import phrase_key  # the engine's notion of "the same words"

    owners: dict[str, dict[str, str]] = {}  # key -> entry id -> the phrasing as written there
    for text, entry_id in training_examples():
        key = phrase_key(text)
        if key:
            owners.setdefault(key, {}).setdefault(entry_id, text)
    shared = {key: by_entry for key, by_entry in owners.items() if len(by_entry) > 1}
    if not shared:
        return []
    ids = {int(entry_id) for by_entry in shared.values() for entry_id in by_entry}
    entries = FaqEntry.objects.in_bulk(ids)
    return sorted(
        (
            SharedPhrasing(
                phrasing=next(iter(by_entry.values())),
                entries=[entries[int(entry_id)] for entry_id in sorted(by_entry, key=int)],
            )
            for by_entry in shared.values()
        ),
        key=lambda shared_phrasing: shared_phrasing.phrasing.lower(),
    )
