"""One call for the inbox: intent (FAQ match), sentiment and frustration of one message."""

from __future__ import annotations

from dataclasses import dataclass

from heedful.ml.faq import FaqMatcher, Match
from heedful.ml.frustration import ConversationSignals, Frustration, score_frustration
from heedful.ml.sentiment import Sentiment, SentimentModel, analyse_sentiment


@dataclass(frozen=True)
class Triage:
    match: Match | None
    sentiment: Sentiment
    frustration: Frustration

    @property
    def escalated(self) -> bool:
        """Whether the sentence encoder ran (match or sentiment); else the fast pass decided."""
        return bool(self.match is not None and self.match.escalated) or self.sentiment.model == "full"


def triage(
    text: str,
    *,
    matcher: FaqMatcher | None = None,
    signals: ConversationSignals | None = None,
    sentiment_model: SentimentModel | None = None,
) -> Triage:
    """Match ``text`` against the FAQ (if a matcher is given), then sentiment and frustration."""
    match = matcher.match(text) if matcher is not None else None
    mood = analyse_sentiment(text, model=sentiment_model)
    return Triage(match, mood, score_frustration(text, signals, sentiment=mood))
