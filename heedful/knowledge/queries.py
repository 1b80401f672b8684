"""Reads for the knowledge pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from heedful.knowledge.matching import current_examples
from heedful.knowledge.models import BotCaution, FaqEntry

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


# (knowledge-base version, its shared phrasings): the word split over every phrasing costs about
# 0.3 s at 10,000 variants, too much for every view of the knowledge page; the version changes
# with any edit, so the result is never stale.
_shared_memo: tuple[str, dict[str, dict[str, str]]] = ("", {})


def _claimed_twice(examples: list[tuple[str, str]]) -> dict[str, dict[str, str]]:
    """Phrase key -> entry id -> the phrasing as written there, for keys of two entries or more."""
    from heedful.ml.text import phrase_key  # the engine's notion of "the same words"

    owners: dict[str, dict[str, str]] = {}
    for text, entry_id in examples:
        key = phrase_key(text)
        if key:
            owners.setdefault(key, {}).setdefault(entry_id, text)
    return {key: by_entry for key, by_entry in owners.items() if len(by_entry) > 1}


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
    global _shared_memo
    examples, version = current_examples()
    memo = _shared_memo  # one read: another request may replace it meanwhile
    if memo[0] != version:
        memo = _shared_memo = (version, _claimed_twice(examples))
    shared = memo[1]
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


def bot_caution() -> int:
    """The wrong answers in 100 the FAQ bot's threshold is calibrated for (the owner's choice)."""
    caution = BotCaution.objects.filter(pk=1).first()
    return caution.wrong_answers_per_100 if caution else int(BotCaution.DEFAULT)
