"""The chat widget's side of the inbox: visitors known by a browser-kept token, their messages."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from heedful.inbox import services
from heedful.inbox.models import Author, Channel, ChatVisitor, Conversation, Direction, Message

MAX_TEXT = 2000
# last_seen_at is for "when was this visitor last here", not an audit trail: writing it on every
# message would cost an UPDATE on the chat's hot path for no one's benefit.
SEEN_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    visitor: ChatVisitor
    token: str


def visitor_for_token(token: str) -> ChatVisitor | None:
    if not token or len(token) > 200:
        return None
    return (
        ChatVisitor.objects.select_related("conversation")
        .filter(token_hash=ChatVisitor.hash_token(token))
        .first()
    )


@transaction.atomic
def start_visitor_session(*, origin: str) -> Session:
    """A new visitor: the token goes to their browser once; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    visitor = ChatVisitor.objects.create(token_hash=ChatVisitor.hash_token(token), origin=origin[:200])
    return Session(visitor, token)


@transaction.atomic
def post_visitor_message(*, visitor: ChatVisitor, text: str) -> Message:
    """Store the visitor's message and let the bot respond; the returned message's
    ``conversation`` is the visitor's, up to date (no need to read it again)."""
    conversation = visitor.conversation
    now = timezone.now()
    if conversation is None:
        conversation = services.start_conversation(channel=Channel.CHAT, subject=text[:80])
        visitor.conversation = conversation
        visitor.last_seen_at = now
        visitor.save(update_fields=["conversation", "last_seen_at"])
    elif visitor.last_seen_at is None or now - visitor.last_seen_at >= SEEN_PRECISION:
        visitor.last_seen_at = now
        ChatVisitor.objects.filter(pk=visitor.pk).update(last_seen_at=now)
    return services.receive_customer_message(conversation=conversation, body=text.strip()[:MAX_TEXT])


@transaction.atomic
def post_visitor_feedback(*, visitor: ChatVisitor, message_id: int, choice: str) -> None:
    if visitor.conversation is not None:
        services.record_feedback(conversation=visitor.conversation, message_id=message_id, choice=choice)


def visible_messages(conversation: Conversation | None, after: int = 0) -> list[dict[str, Any]]:
    """What the visitor may see: everything but internal notes, as plain data (text, never HTML)."""
    if conversation is None:
        return []
    rows = (
        conversation.messages.exclude(direction=Direction.INTERNAL)
        .filter(pk__gt=after)
        .select_related("author_user")
        .order_by("id")
    )
    return [
        {
            "id": m.pk,
            "author": m.author_kind,
            "name": _name(m),
            "text": m.body,
            "actions": m.actions,
            "at": m.created_at.isoformat(),
        }
        for m in rows
    ]


def _name(message: Message) -> str:
    if message.author_kind == Author.AGENT and message.author_user is not None:
        return message.author_user.first_name or "Support"
    return {"bot": "Assistant", "customer": "You", "system": "Support"}.get(message.author_kind, "Support")
