from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.apps import AppConfig


def _not_queued(params: Mapping[str, Any], proposal: Any) -> Any:
    from heedful.governance.actions import ActionError

    raise ActionError(
        "Auto-answers are sent by the inbox as they happen; this policy only allows or stops them."
    )


class InboxConfig(AppConfig):
    name = "heedful.inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from heedful.crm.erasure import register_eraser
        from heedful.governance.actions import ActionType, register_action
        from heedful.inbox.erasure import erase_person, subjects_of

        # Erasing a contact erases their conversations, orders and chat visitors too.
        register_eraser("inbox", erase_person, finds=subjects_of)

        # The owner's switch for auto-answers: "auto" lets the bot answer when confident;
        # "ask" or "never" make every FAQ question go to a person (the policy page sets it).
        register_action(
            ActionType(
                name="inbox.auto_answer",
                label="Answer customers from the knowledge base",
                default_policy="auto",
                execute=_not_queued,
                describe=lambda params: "Answer a customer question from the knowledge base",
            )
        )
        from heedful.inbox.actions import ask_csat, describe_ask_csat

        # A fixed, reviewed question sent at most once per conversation: "auto" by default,
        # like the question the inbox asks itself on resolution; the owner may set "ask".
        register_action(
            ActionType(
                name="inbox.ask_csat",
                label="Ask a customer how the conversation went (CSAT)",
                default_policy="auto",
                execute=ask_csat,
                describe=describe_ask_csat,
            )
        )
