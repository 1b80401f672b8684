"""Triage: intent, sentiment, frustration and urgency of each inbound message, and the priority
that sorts the inbox, with its reason in words ("negative, third contact this week, waited 26 h").

The text engine (heedful.ml) is called only here and in heedful/knowledge/matching.py. When a
model is missing (the sentiment model is built by `heedful ml build`), triage leaves that signal
empty rather than guessing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from heedful.ml.frustration import ConversationSignals, Frustration, score_frustration
from heedful.ml.sentiment import Sentiment, analyse_sentiment

log = logging.getLogger(__name__)

_URGENT = re.compile(
    r"\b(urgent(ly)?|asap|as soon as possible|immediately|right now|emergency|today|tonight|deadline)\b|!!",
    re.IGNORECASE,
)
ORDINALS = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}


@dataclass(frozen=True)
class MessageTriage:
    intent: str
    sentiment: str  # "negative", "neutral", "positive", or "" when the engine cannot tell
    sentiment_score: float | None
    frustration: float | None
    urgency: float
    # Why the frustration score is what it is, in plain words (not stored; the bot's hand-off
    # decision quotes them).
    frustration_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Priority:
    score: float
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return ", ".join(self.reasons)


_warned: set[str] = set()


def _warn_once(name: str, exc: Exception) -> None:
    if name not in _warned:
        _warned.add(name)
        log.warning("Triage goes on without %s: %s", name, exc)


def _sentiment(text: str) -> Sentiment | None:
    try:
        return analyse_sentiment(text)
    except Exception as exc:  # e.g. the model is not built yet: triage goes on without it
        _warn_once("sentiment", exc)
        return None


def _frustration(text: str, signals: ConversationSignals, sentiment: Sentiment | None) -> Frustration | None:
    try:
        return score_frustration(text, signals, sentiment=sentiment)
    except Exception as exc:
        _warn_once("frustration", exc)
        return None


def urgency_of(text: str) -> float:
    """A rule, not a model: explicit time pressure in the customer's words."""
    hits = len(_URGENT.findall(text))
    return min(1.0, 0.5 * hits)


_URGENCY = {"low": 0.0, "medium": 0.5, "high": 1.0}


def triage_message(
    text: str, *, intent: str, contacts_this_week: int, minutes_waited: float
) -> MessageTriage:
    sentiment = _sentiment(text)
    signals = ConversationSignals(
        repeat_contacts=max(0, contacts_this_week - 1), minutes_waited=minutes_waited
    )
    frustration = _frustration(text, signals, sentiment)
    urgency = urgency_of(text)
    if frustration is not None:
        urgency = max(urgency, _URGENCY.get(frustration.urgency, 0.0))
    return MessageTriage(
        intent=intent,
        sentiment=sentiment.label if sentiment else "",
        sentiment_score=sentiment.probabilities.get(sentiment.label) if sentiment else None,
        frustration=frustration.score if frustration else None,
        urgency=urgency,
        frustration_reasons=frustration.reasons if frustration else (),
    )


def priority_for(
    latest: MessageTriage | None,
    *,
    contacts_this_week: int,
    waiting_since: datetime | None,
    now: datetime,
    customer_value: Decimal,
) -> Priority:
    """Combine the signals into one score; each signal that counts adds its words to the reason."""
    score = 0.0
    reasons: list[str] = []
    if latest is not None:
        if latest.sentiment == "negative":
            score += 2.0
            reasons.append("negative")
        if latest.frustration is not None and latest.frustration >= 0.5:
            score += 3.0 * latest.frustration
            reasons.append("frustrated")
        if latest.urgency >= 0.5:
            score += 2.0 * latest.urgency
            reasons.append("urgent")
    if contacts_this_week >= 2:
        score += float(contacts_this_week - 1)
        reasons.append(f"{ORDINALS.get(contacts_this_week, f'{contacts_this_week}th')} contact this week")
    if waiting_since is not None:
        hours = max(0.0, (now - waiting_since).total_seconds() / 3600)
        score += min(hours / 8.0, 4.0)
        if hours >= 1:
            reasons.append(f"waited {int(hours)} h")
    if customer_value >= Decimal("500"):
        score += 1.0
        reasons.append(f"customer value {customer_value:.0f}")
    return Priority(round(score, 3), reasons)
