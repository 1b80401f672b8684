"""The one documented catalogue of domain events that workflows can start on or wait for.

An app emits an event with ``heedful.workflows.events.emit_event(name, payload, subject)``
inside the service transaction that made the change; workflows consider it after commit.
Add a new event here first (name, who emits it, the subject, the payload keys with an
example), then call ``emit_event`` from the service. Unknown names are refused, so a typo
in a service fails its tests instead of silently starting nothing.

Payload keys are what conditions (``event.order.status``) and email tokens
(``{{ event.order.number }}``) can read. Keep them plain JSON, and keep personal data to
what a workflow needs: events are kept as long as the workflow retention says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EventSpec:
    name: str
    description: str
    emitted_by: str
    subject_type: str
    example: dict[str, Any] = field(default_factory=dict)


_CONTACT = {"contact": {"id": 12, "email": "rosa@example.com", "first_name": "Rosa"}}


def _order(status: str) -> dict[str, Any]:
    # Every order event carries the whole order, so a condition on ``event.order.total`` works
    # whichever event started the run. ``source`` says where the change came from: a CSV
    # import of history is "csv-import", which the gallery's order templates leave alone.
    return {
        "id": 5,
        "number": "A-1001",
        "status": status,
        "total": "42.50",
        "carrier": "DHL",
        "tracking_url": "https://track.example/A-1001",
        "new_eta": "2026-12-03",
    }


EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        "contact.created",
        "A contact was added (form, import, API or by hand).",
        "crm.services.create_contact",
        "contact",
        {**_CONTACT, "source": "web_form"},
    ),
    EventSpec(
        "lead.created",
        "A new lead was captured.",
        "crm.services.capture_lead",
        "contact",
        {**_CONTACT, "lead": {"id": 3, "source": "web_form", "score": 62}},
    ),
    EventSpec(
        "lead.replied",
        "A lead answered one of our messages.",
        "inbox.services",
        "contact",
        {**_CONTACT, "conversation_id": 88},
    ),
    EventSpec(
        "customer.onboarded",
        "A contact became a customer (first order or signed contract), once per contact; "
        "onboarding journeys start here.",
        "crm.services.mark_customer_onboarded",
        "contact",
        {**_CONTACT, "reason": "first order A-1001", "source": "shop-webhook"},
    ),
    EventSpec(
        "order.created",
        "An order was placed (shop webhook, API, CSV import or by hand).",
        "inbox.shop.upsert_order",
        "contact",
        {**_CONTACT, "order": _order("placed"), "source": "shop-webhook"},
    ),
    EventSpec(
        "order.shipped",
        "An order left the warehouse.",
        "inbox.shop.upsert_order / set_order_status",
        "contact",
        {**_CONTACT, "order": _order("shipped"), "source": "shop-webhook"},
    ),
    EventSpec(
        "order.delayed",
        "An order will arrive later than promised.",
        "inbox.shop.upsert_order / set_order_status",
        "contact",
        {**_CONTACT, "order": _order("delayed"), "source": "shop-webhook"},
    ),
    EventSpec(
        "order.delivered",
        "An order was delivered (an order that arrives already delivered is history: no event).",
        "inbox.shop.upsert_order / set_order_status",
        "contact",
        {**_CONTACT, "order": _order("delivered"), "source": "shop-webhook"},
    ),
    EventSpec(
        "conversation.created",
        "A customer started a conversation (email, chat, form).",
        "inbox.services",
        "contact",
        {**_CONTACT, "conversation_id": 88, "channel": "email", "assignee_email": "ana@example.com"},
    ),
    EventSpec(
        "conversation.customer_replied",
        "The customer wrote again in a conversation.",
        "inbox.services",
        "contact",
        {**_CONTACT, "conversation_id": 88, "assignee_email": "ana@example.com"},
    ),
    EventSpec(
        "conversation.agent_replied",
        "Someone on the team answered in a conversation.",
        "inbox.services",
        "contact",
        {**_CONTACT, "conversation_id": 88, "agent_email": "ana@example.com"},
    ),
    EventSpec(
        "conversation.resolved",
        "A conversation was marked resolved, by a person or, after days without a message, "
        "automatically (then its automatically is true).",
        "inbox.services",
        "contact",
        {**_CONTACT, "conversation_id": 88, "assignee_email": "ana@example.com", "automatically": False},
    ),
    EventSpec(
        "employee.hired",
        "An employee was added whose first day is ahead, or at most 30 days back (adding staff "
        "who started earlier, as when setting heedful up, is not a hire).",
        "people.services.hire_employee",
        "employee",
        {
            "employee": {
                "id": 4,
                "email": "eli@example.com",
                "first_name": "Eli",
                "job_title": "Packer",
                "team": "Packing",
                "start_date": "2026-12-01",
            }
        },
    ),
    EventSpec(
        "leave.requested",
        "An employee asked for leave (the note stays private; approver_email is the first level's).",
        "people.services.request_leave",
        "employee",
        {
            "employee": {"id": 4, "first_name": "Eli"},
            "leave": {
                "id": 9,
                "type": "Annual leave",
                "days": 2.5,
                "start_date": "2026-12-14",
                "end_date": "2026-12-16",
                "approval_levels": 2,
                "approver_email": "max@example.com",
            },
        },
    ),
    EventSpec(
        "survey.answered",
        "A pulse survey round got one more response. Answers are anonymous: the event names no "
        "person, team, tenure band, score or comment, and has no subject.",
        "surveys.services.submit_response",
        "",
        {"survey": {"id": 2, "title": "Monthly pulse"}, "round": {"id": 7, "number": 3}},
    ),
    EventSpec(
        "prediction.risk_high",
        "A churn or attrition score crossed its threshold.",
        "insights.services",
        "contact",
        {**_CONTACT, "prediction": {"model": "churn", "score": 0.81, "top_factor": "no order in 90 days"}},
    ),
    EventSpec(
        "workflow.manual_start",
        "Someone started a workflow by hand from its page or the API.",
        "workflows.services.start_manually",
        "",
        {"started_by": "olivia@example.com"},
    ),
    EventSpec(
        "webhook.received",
        "A signed inbound webhook arrived for a workflow (its payload is the JSON body).",
        "workflows.views.inbound_webhook",
        "",
        {"hook": "shop", "body": {"any": "json"}},
    ),
)

CATALOGUE: dict[str, EventSpec] = {spec.name: spec for spec in EVENTS}


def is_known_event(name: str) -> bool:
    return name in CATALOGUE
