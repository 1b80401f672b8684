"""Reads for the agent pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from heedful.accounts.models import User
from heedful.inbox import contacts
from heedful.inbox.models import CannedResponse, Conversation, Direction, Message, Order, Status

FILTERS = {
    "open": ("Needs a person", {"status": Status.OPEN}),
    "bot": ("With the bot", {"status": Status.BOT}),
    "waiting": ("Waiting on customer", {"status": Status.WAITING}),
    "resolved": ("Resolved", {"status": Status.RESOLVED}),
    "all": ("All", {}),
}


def inbox_conversations(*, view: str, user: User, mine: bool = False) -> QuerySet[Conversation]:
    """Conversations for the inbox list, highest priority first, with their latest message."""
    _label, lookup = FILTERS.get(view, FILTERS["open"])
    latest = Message.objects.filter(conversation=OuterRef("pk")).exclude(direction=Direction.INTERNAL)
    rows = (
        Conversation.objects.filter(**lookup)
        .select_related("assignee")
        .annotate(last_body=Subquery(latest.order_by("-created_at", "-id").values("body")[:1]))
        .order_by("-priority", "created_at")
    )
    if mine:
        rows = rows.filter(assignee=user)
    return rows[:200]


@dataclass
class ConversationContext:
    conversation: Conversation
    messages: list[Message]
    timeline: list[Any]
    orders: list[Order]
    past: list[Conversation]
    canned: list[CannedResponse]
    agents: list[User]
    contact_url: str
    last_customer_text: str
    first_response_breached: bool
    resolution_breached: bool


def conversation_context(conversation: Conversation) -> ConversationContext:
    messages = list(conversation.messages.select_related("author_user").prefetch_related("attachments"))
    email = conversation.customer_email
    last_customer = next((m.body for m in reversed(messages) if m.direction == Direction.IN), "")
    now = timezone.now()
    return ConversationContext(
        conversation=conversation,
        messages=messages,
        timeline=contacts.timeline_for(conversation.contact_id, limit=20),
        orders=list(Order.objects.filter(customer_email__iexact=email)[:10]) if email else [],
        past=list(Conversation.objects.filter(customer_email=email).exclude(pk=conversation.pk)[:10])
        if email
        else [],
        canned=list(CannedResponse.objects.all()[:50]),
        agents=list(
            User.objects.filter(is_active=True).exclude(role="employee").order_by("first_name", "email")
        ),
        contact_url=contacts.contact_url(conversation.contact_id),
        last_customer_text=last_customer,
        first_response_breached=conversation.first_response_breached(now),
        resolution_breached=conversation.resolution_breached(now),
    )
