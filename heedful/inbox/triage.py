"""Triage: intent, sentiment, frustration and urgency of each inbound message, and the priority
that sorts the inbox, with its reason in words ("negative, third contact this week, waited 26 h").

The text engine (heedful.ml) is called only here and in heedful/knowledge/matching.py. While it
lacks a function, triage leaves that signal empty rather than guessing.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

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


@dataclass(frozen=True)
class Priority:
    score: float
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return ", ".join(self.reasons)


_ML_MODULES = ("heedful.ml", "heedful.ml.sentiment", "heedful.ml.frustration")


def _ml_function(name: str) -> Any | None:
    for module_name in _ML_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        function = getattr(module, name, None)
        if function is not None:
            return function
    return None


def _field(result: Any, *names: str) -> Any:
    for name in names:
        if isinstance(result, dict) and name in result:
            return result[name]
        if hasattr(result, name):
            return getattr(result, name)
    return None


def sentiment_of(text: str) -> tuple[str, float | None]:
    analyse = _ml_function("analyse_sentiment")
    if analyse is None:
        return "", None
    try:
        result = analyse(text)
    except Exception as exc:  # e.g. the model is not built yet: triage goes on without it
        log.warning("No sentiment for this message: %s", exc)
        return "", None
    label = _field(result, "label", "sentiment") or ""
    score = _field(result, "score", "polarity", "confidence")
    probabilities = _field(result, "probabilities")
    if score is None and isinstance(probabilities, dict):
        score = probabilities.get(label)
    return str(label).lower(), float(score) if score is not None else None


def frustration_of(text: str, signals: dict[str, Any]) -> float | None:
    score_frustration = _ml_function("score_frustration")
    if score_frustration is None:
        return None
    try:
        result = score_frustration(text, signals)
    except Exception:
        log.exception("score_frustration failed")
        return None
    value = result if isinstance(result, int | float) else _field(result, "score", "value")
    return float(value) if value is not None else None


def urgency_of(text: str) -> float:
    """A rule, not a model: explicit time pressure in the customer's words."""
    hits = len(_URGENT.findall(text))
    return min(1.0, 0.5 * hits)


def triage_message(text: str, *, intent: str, signals: dict[str, Any]) -> MessageTriage:
    label, score = sentiment_of(text)
    return MessageTriage(
        intent=intent,
        sentiment=label,
        sentiment_score=score,
        frustration=frustration_of(text, signals),
        urgency=urgency_of(text),
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
