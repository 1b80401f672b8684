"""The inbox's door to the CRM: contacts and the per-contact timeline, through crm's services."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from heedful.crm import queries as crm_queries
from heedful.crm import services as crm
from heedful.crm.models import Contact

if TYPE_CHECKING:
    from heedful.inbox.models import Conversation, Message

log = logging.getLogger(__name__)


def contact_for_email(email: str, name: str = "") -> int | None:
    """The id of the contact with this address, created when new; None without a usable address."""
    if not email:
        return None
    try:
        contact, _created = crm.find_or_create_contact_by_email(
            email=email, name=name, source="inbox", automation="inbox"
        )
    except ValidationError:
        log.info("No contact for the unusable address %r", email)
        return None
    return int(contact.pk)


def add_to_timeline(conversation: Conversation, message: Message) -> None:
    """Every message lands on the contact's timeline (issue 4, part 2)."""
    if conversation.contact_id is None:
        return
    contact = Contact.objects.filter(pk=conversation.contact_id).first()
    if contact is None:
        return
    who = message.get_author_kind_display()
    kwargs: dict[str, Any] = {
        "contact": contact,
        "kind": "message",
        "title": f"{who} · {conversation.get_channel_display()}",
        "body": message.body[:2000],
        "data": {
            "conversation_id": conversation.pk,
            "message_id": message.pk,
            "direction": message.direction,
        },
        "occurred_at": message.created_at,
        "source": "inbox",
        "ref_type": "conversation",
        "ref_id": conversation.pk,
    }
    if message.author_user is not None:
        kwargs["user"] = message.author_user
    else:
        kwargs["automation"] = "inbox"
    crm.add_timeline_entry(**kwargs)


def add_entry(
    conversation: Conversation, *, kind: str, title: str, body: str = "", data: dict[str, Any] | None = None
) -> None:
    """A non-message touchpoint of a conversation (a CSAT rating) on the contact's timeline."""
    if conversation.contact_id is None:
        return
    contact = Contact.objects.filter(pk=conversation.contact_id).first()
    if contact is None:
        return
    crm.add_timeline_entry(
        contact=contact,
        kind=kind,
        title=title[:200],
        body=body[:2000],
        data=data or {},
        source="inbox",
        automation="inbox",
        ref_type="conversation",
        ref_id=conversation.pk,
    )


def event_contact_of(conversation: Conversation) -> dict[str, Any] | None:
    """The conversation's contact as workflow events carry it, or None (a visitor without one)."""
    if conversation.contact_id is None:
        return None
    contact = Contact.objects.filter(pk=conversation.contact_id).first()
    return crm.event_contact(contact) if contact else None


def is_open_lead(contact_id: int | None) -> bool:
    """A captured lead (a "lead" entry on the timeline) who has not ordered yet."""
    if contact_id is None:
        return False
    from heedful.crm.models import TimelineKind
    from heedful.inbox.models import Order

    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or not contact.timeline.filter(kind=TimelineKind.LEAD).exists():
        return False
    return not (contact.email and Order.objects.filter(customer_email__iexact=contact.email).exists())


def timeline_for(contact_id: int | None, limit: int = 30) -> list[Any]:
    """The contact's recent timeline for the agent's side panel."""
    if contact_id is None:
        return []
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return []
    return list(crm_queries.timeline_for(contact)[:limit])


def contact_url(contact_id: int | None) -> str:
    if contact_id is None:
        return ""
    from django.urls import reverse

    return reverse("crm:contact-detail", args=[contact_id])
