"""Frustration / urgency score from the text *and* from what the caller knows about the exchange.

A transparent additive score (no training data labels frustration directly): each signal adds
points, the total goes through ``1 - exp(-points)`` into 0..1, and every signal that fired is
returned as a plain-language reason. Weights are hand-set and documented in
docs/model-cards/sentiment.md; they are deliberately simple so that staff can argue with them.

>>> f = score_frustration("STILL waiting for my refund!!!", ConversationSignals(repeat_contacts=2),
...                       sentiment=None)
>>> f.urgency, f.reasons[0]
('high', 'contacted us 2 times before about this')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from heedful.ml.sentiment import Sentiment
from heedful.ml.text import clean

# word -> (points, reason); matched as whole words on the cleaned text.
CUE_WORDS: dict[str, tuple[float, str]] = {
    "still": (0.35, "says 'still'"),
    "again": (0.35, "says 'again'"),
    "yet": (0.15, "says 'yet'"),
    "cancel": (0.5, "mentions cancelling"),
    "cancelled": (0.3, "mentions a cancellation"),
    "canceled": (0.3, "mentions a cancellation"),
    "refund": (0.5, "asks for a refund"),
    "complaint": (0.4, "calls it a complaint"),
    "unacceptable": (0.5, "calls it unacceptable"),
    "ridiculous": (0.4, "calls it ridiculous"),
    "worst": (0.4, "says 'worst'"),
    "never": (0.2, "says 'never'"),
    "waiting": (0.3, "mentions waiting"),
    "lawyer": (0.6, "mentions a lawyer"),
    "disappointed": (0.3, "is disappointed"),
}
URGENT_WORDS = ("urgent", "asap", "immediately", "emergency", "today", "now", "tonight")
_WORD = re.compile(r"[a-z']+")


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


@dataclass(frozen=True)
class ConversationSignals:
    """What the caller knows beyond the text (all optional)."""

    repeat_contacts: int = 0  # earlier messages from this person about the same matter
    minutes_waited: float = 0.0  # since their first unanswered message
    previous_unresolved: bool = False  # an earlier ticket was closed without a fix


@dataclass(frozen=True)
class Frustration:
    score: float  # 0..1
    urgency: str  # "low" | "medium" | "high"
    reasons: tuple[str, ...]
    model_version: str = "frustration-rules-1"


def score_frustration(
    text: str, signals: ConversationSignals | None = None, *, sentiment: Sentiment | None = None
) -> Frustration:
    """Score frustration; pass ``sentiment`` (from analyse_sentiment) to include its negativity."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    sig = signals or ConversationSignals()
    found: list[tuple[float, str]] = []
    if sig.repeat_contacts > 0:
        found.append(
            (
                0.6 * min(sig.repeat_contacts, 4),
                f"contacted us {sig.repeat_contacts} time{_plural(sig.repeat_contacts)} before about this",
            )
        )
    if sig.minutes_waited >= 60:
        hours = sig.minutes_waited / 60
        found.append((min(0.25 * math.log2(1 + hours), 1.0), f"has waited {hours:.0f} h for a reply"))
    if sig.previous_unresolved:
        found.append((0.5, "an earlier request was closed without a fix"))
    raw = text[:5000]
    letters = [ch for ch in raw if ch.isalpha()]
    upper = sum(ch.isupper() for ch in letters)
    if len(letters) >= 8 and upper / len(letters) > 0.5:
        found.append((0.4, "writes in capitals"))
    elif re.search(r"\b[A-Z]{4,}\b", raw):
        found.append((0.15, "stresses words in capitals"))
    bangs = raw.count("!")
    if bangs >= 2:
        found.append((min(0.15 * bangs, 0.6), f"uses {bangs} exclamation marks"))
    words = set(_WORD.findall(clean(raw)))
    for word in sorted(words & CUE_WORDS.keys()):
        found.append(CUE_WORDS[word])
    if sentiment is not None:
        negative = sentiment.probabilities.get("negative", 0.0)
        if negative >= 0.5:
            found.append((1.0 * negative, f"the message reads negative ({negative:.0%})"))
    points = sum(p for p, _ in found)
    score = round(1.0 - math.exp(-points), 4)
    urgent = bool(words & set(URGENT_WORDS))
    urgency = (
        "high"
        if score >= 0.75 or (urgent and score >= 0.4)
        else "medium"
        if score >= 0.4 or urgent
        else "low"
    )
    if urgent:
        found.append((0.0, "asks for a quick answer"))
    reasons = tuple(r for _, r in sorted(found, key=lambda x: (-x[0], x[1])))
    return Frustration(score, urgency, reasons)
