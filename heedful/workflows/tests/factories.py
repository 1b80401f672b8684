"""Workflow test data: small valid definitions and a quick way to save them."""

from __future__ import annotations

from typing import Any

from heedful.governance.services import Subject
from heedful.workflows import services
from heedful.workflows.models import WorkflowDefinition

ROSA = Subject("contact", "12", "Rosa Costa")
ROSA_PAYLOAD = {"contact": {"id": 12, "email": "rosa@example.com", "first_name": "Rosa"}}


def shipped_payload(number: str = "A-1001", **order: Any) -> dict[str, Any]:
    return {
        **ROSA_PAYLOAD,
        "order": {"number": number, "status": "shipped", "tracking_url": "https://t.example/1", **order},
    }


def email_step(step_id: str = "mail", **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "action",
        "action": "send_email",
        "params": {
            "subject": "Order {{ event.order.number }} is on its way",
            "body": (
                'Hi {{ contact.first_name|default:"there" }}, track it at {{ event.order.tracking_url }}.'
            ),
        },
        **extra,
    }


def definition(*steps: dict[str, Any], event: str = "order.shipped", **trigger: Any) -> dict[str, Any]:
    return {
        "trigger": {"event": event, **trigger},
        "retry": {"max_attempts": 3, "backoff": "1s"},
        "steps": list(steps),
    }


def make_workflow(
    *steps: dict[str, Any], name: str = "Shipped", enabled: bool = True, **trigger: Any
) -> WorkflowDefinition:
    return services.create_workflow(
        name=name, definition=definition(*(steps or (email_step(),)), **trigger), user=None, enabled=enabled
    )
