"""The inbox's only door to the CRM (contacts and the per-contact timeline).

heedful.crm is reached through its services. While they are not installed (the CRM is built
alongside the inbox), conversations keep the customer's email and name themselves and the
timeline entries are skipped with a log line; nothing in the inbox depends on them.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heedful.inbox.models import Conversation, Message

log = logging.getLogger(__name__)


def _crm() -> ModuleType | None:
    try:
        return importlib.import_module("heedful.crm.services")
    except ImportError:
        return None


def contact_for_email(email: str, name: str = "") -> int | None:
    """The id of the contact with this email address, created when new; None without a CRM."""
    crm = _crm()
    if crm is None or not email or not hasattr(crm, "find_or_create_contact_by_email"):
        return None
    kwargs: dict[str, Any] = {"email": email}
    if name:
        kwargs["name"] = name
    try:
        contact = crm.find_or_create_contact_by_email(**kwargs)
    except TypeError:
        contact = crm.find_or_create_contact_by_email(email=email)
    if isinstance(contact, tuple):  # (contact, created)
        contact = contact[0]
    return int(contact.pk)


def _contact(contact_id: int) -> Any | None:
    try:
        models = importlib.import_module("heedful.crm.models")
    except ImportError:
        return None
    return models.Contact.objects.filter(pk=contact_id).first()


def add_to_timeline(conversation: Conversation, message: Message) -> None:
    """Every message lands on the contact's timeline (issue 4, part 2)."""
    crm = _crm()
    if crm is None or conversation.contact_id is None or not hasattr(crm, "add_timeline_entry"):
        return
    contact = _contact(conversation.contact_id)
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
        "source": "inbox",
    }
    if message.author_user is not None:
        kwargs["user"] = message.author_user
    else:
        kwargs["automation"] = "inbox"
    crm.add_timeline_entry(**kwargs)


def timeline_for(contact_id: int | None, limit: int = 30) -> list[Any]:
    """The contact's recent timeline entries for the agent's side panel; [] without a CRM."""
    if contact_id is None:
        return []
    contact = _contact(contact_id)
    if contact is None:
        return []
    entries = getattr(contact, "timeline", None) or getattr(contact, "timeline_entries", None)
    if entries is None:
        return []
    return list(entries.all()[:limit])
