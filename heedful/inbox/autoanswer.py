"""The bot's decision for one customer message: answer, hand off, ask, or stay silent.

Pure decision, no writes: heedful.inbox.services applies it. The order of the checks is the
contract (issue 4, part 4), each backed by a test:

1. the bot is silent once a person holds the conversation (a human replied, or it was handed off);
2. "human", "agent", "person" and the like hand off at once;
3. "didn't help" hands off and flags the entry that did not help;
4. a very frustrated customer (the triage's frustration score at or above
   ``HEEDFUL_BOT_HANDOFF_FRUSTRATION``) gets an apology and a person, not an answer: a bot
   that answers an angry third message with an FAQ entry makes it worse;
5. after N answers without the customer confirming one helped, the next message hands off;
6. order and stock questions are answered only from verified data (orders.py);
7. otherwise the FAQ matcher decides: confident and allowed by policy → answer; else hand off.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from heedful.governance.services import policy_for
from heedful.inbox import conf, orders
from heedful.inbox.models import Conversation
from heedful.knowledge.matching import MatchResult, active_entry, match_question
from heedful.knowledge.models import FaqEntry

ACTION_TYPE = "inbox.auto_answer"

_ASKS_FOR_PERSON = re.compile(
    r"\b(human|humans|agent|person|real person|representative|operator|somebody real|someone real|"
    r"staff member|speak (to|with) (someone|somebody)|talk to (someone|somebody)|live chat)\b",
    re.IGNORECASE,
)
_NOT_HELPED = re.compile(
    r"\b((didn'?t|did not|doesn'?t|does not|not) help(ed|ful)?|unhelpful|wrong answer|that'?s wrong|"
    r"not what i (asked|meant)|useless)\b",
    re.IGNORECASE,
)


def asks_for_person(text: str) -> bool:
    return bool(_ASKS_FOR_PERSON.search(text))


def says_not_helped(text: str) -> bool:
    return bool(_NOT_HELPED.search(text))


@dataclass
class BotDecision:
    """``kind``: "silent", "answer", "handoff" or "ask" (the bot needs details to go on)."""

    kind: str
    reason: str
    text: str = ""
    entry: FaqEntry | None = None
    match: MatchResult | None = None
    factors: list[dict[str, Any]] = field(default_factory=list)
    intent: str = "question"
    flag_entry_id: int | None = None
    order_number: str = ""
    counts_as_answer: bool = True
    failed_order_check: bool = False
    apologise: bool = False  # the hand-off message opens with an apology


def _handoff(reason: str, *, intent: str, match: MatchResult | None = None, **extra: Any) -> BotDecision:
    factors = [{"text": reason, "weight": 1.0}]
    if match is not None and not match.unavailable_reason:
        factors.append(
            {
                "text": f"confidence {match.confidence:.2f} against threshold {match.threshold:.2f}",
                "weight": round(match.confidence - match.threshold, 4),
            }
        )
    return BotDecision(kind="handoff", reason=reason, match=match, factors=factors, intent=intent, **extra)


def intent_of(text: str) -> str:
    if asks_for_person(text):
        return "human"
    if says_not_helped(text):
        return "not_helped"
    if orders.is_order_question(text) or orders.order_numbers_in(text):
        return "order_status"
    if orders.is_stock_question(text):
        return "stock"
    return "question"


def decide(
    conversation: Conversation,
    text: str,
    *,
    earlier_customer_texts: Callable[[], list[str]],
    last_bot_entry_id: Callable[[], int | None],
    frustration: float | None = None,
    frustration_reasons: Sequence[str] = (),
) -> BotDecision:
    """The bot's decision for ``text``. The history is asked for (called) only when a check
    needs it: the customer's earlier messages for an order question, the last answered entry
    for a "didn't help". ``frustration`` is the message's triage score (0..1; None when triage
    could not tell) with its reasons in plain words."""
    intent = intent_of(text)
    if not conversation.bot_may_answer:
        return BotDecision(kind="silent", reason="a person holds this conversation", intent=intent)
    if intent == "human":
        return _handoff("the customer asked for a person", intent=intent)
    if intent == "not_helped":
        return _handoff(
            "the customer said the answer did not help", intent=intent, flag_entry_id=last_bot_entry_id()
        )
    at = conf.handoff_frustration()
    if frustration is not None and at is not None and frustration >= at:
        decision = _handoff(
            f"the customer sounds very frustrated (frustration {frustration:.2f}, hand-off from {at:.2f})",
            intent=intent,
            apologise=True,
        )
        # The triage's reasons detail the one above; they carry no weight of their own, so
        # none is stored (the decision page would otherwise show each as "+0.00").
        decision.factors += [{"text": reason, "weight": None} for reason in frustration_reasons]
        return decision
    limit = conf.max_unconfirmed_answers()
    if conversation.bot_answers_unconfirmed >= limit:
        return _handoff(
            f"{conversation.bot_answers_unconfirmed} answers without the customer confirming one helped "
            f"(the limit is {limit})",
            intent=intent,
        )
    if intent == "order_status" or (intent == "question" and orders.order_numbers_in(text)):
        return _order_decision(conversation, text, earlier_customer_texts())
    if intent == "stock":
        product = orders.product_in_question(text)
        if product is not None:
            return BotDecision(
                kind="answer",
                reason=f"stock of {product.sku} from product data",
                text=orders.describe_stock(product),
                factors=[{"text": f"the question names {product.name} ({product.sku})", "weight": 1.0}],
                intent=intent,
            )
    return _faq_decision(text, intent)


def _order_decision(conversation: Conversation, text: str, earlier: list[str]) -> BotDecision:
    lookup = orders.find_owned_order(
        texts=[*earlier[-2:], text], channel=conversation.channel, sender_email=conversation.customer_email
    )
    if lookup.order is not None:
        return BotDecision(
            kind="answer",
            reason="order status for its verified owner",
            text=orders.describe_order(lookup.order),
            factors=[
                {"text": f"order {lookup.order.number} named or found", "weight": 1.0},
                {"text": f"ownership: {lookup.proof}", "weight": 1.0},
            ],
            intent="order_status",
            order_number=lookup.order.number,
        )
    if not lookup.numbers:
        return BotDecision(
            kind="ask",
            reason="order question without an order number",
            text=orders.ask_for_details(conversation.channel),
            factors=[{"text": "no order number in the message", "weight": 1.0}],
            intent="order_status",
            counts_as_answer=False,
        )
    if conversation.failed_order_checks + 1 >= conf.max_failed_order_checks():
        return _handoff(
            "the order details could not be matched twice", intent="order_status", failed_order_check=True
        )
    # The same reply whether the order does not exist or belongs to someone else.
    return BotDecision(
        kind="ask",
        reason="order number and details did not match an order of the asker",
        text=orders.NOT_MATCHED,
        factors=[{"text": "no order of the asker matched the details given", "weight": 1.0}],
        intent="order_status",
        counts_as_answer=False,
        failed_order_check=True,
    )


def _faq_decision(text: str, intent: str) -> BotDecision:
    match = match_question(text)
    if match.unavailable_reason:
        return _handoff(match.unavailable_reason, intent=intent, match=match)
    # The entry as the matcher was trained on it; read from the database only if another
    # request's newer knowledge base took its place a moment ago.
    entry = active_entry(match.entry_id) or (
        FaqEntry.objects.filter(pk=match.entry_id, is_active=True).first() if match.entry_id else None
    )
    if entry is None:
        return _handoff("no knowledge-base entry matched with enough confidence", intent=intent, match=match)
    mode = policy_for(ACTION_TYPE)
    if mode != "auto":
        return _handoff(f"auto-answers need a person by policy ({mode})", intent=intent, match=match)
    reply = entry.answer + (f"\n\nRead more: {entry.link()}" if entry.link() else "")
    factors = [
        {"text": f"matched “{entry.question}”", "weight": 1.0},
        {
            "text": f"confidence {match.confidence:.2f} against threshold {match.threshold:.2f}",
            "weight": round(match.confidence - match.threshold, 4),
        },
    ]
    if match.explanation:
        factors.append({"text": match.explanation[:200], "weight": None})  # which examples it was near
    return BotDecision(
        kind="answer",
        reason="a knowledge-base entry matched with enough confidence",
        text=reply,
        entry=entry,
        match=match,
        factors=factors,
        intent=intent,
    )
