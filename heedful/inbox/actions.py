"""Governance action types the inbox offers to automations (workflows).

``inbox.ask_csat`` asks the customer of a resolved conversation how it went, through
``heedful.inbox.csat.send_csat_request`` (once per conversation, whoever asks). A workflow
step proposes it with ``{"conversation_id": <id>}``, e.g. from ``conversation.resolved``'s
payload; the owner's policy decides whether it runs at once or waits for approval.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heedful.governance.actions import ActionError, ActionOutcome


def ask_csat(params: Mapping[str, Any], proposal: Any) -> ActionOutcome:
    from heedful.inbox.csat import send_csat_request
    from heedful.inbox.models import Conversation

    try:
        conversation_id = int(params["conversation_id"])
    except (KeyError, TypeError, ValueError):
        raise ActionError("Which conversation? Give conversation_id (a number).") from None
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise ActionError(f"There is no conversation #{conversation_id}.")
    question = send_csat_request(conversation)
    if question is None:
        return ActionOutcome(
            summary=f"Not asked: conversation #{conversation_id} was asked before, is not resolved, "
            "or has no way to reach the customer"
        )
    return ActionOutcome(
        summary=f"Asked how conversation #{conversation_id} went",
        result={"csat_id": question.pk, "message_id": question.message_id},
    )


def describe_ask_csat(params: Mapping[str, Any]) -> str:
    return f"Ask the customer of conversation #{params.get('conversation_id')} how it went (1–5)"
