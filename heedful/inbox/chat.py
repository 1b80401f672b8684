"""The chat widget's side of the inbox: visitors known by a browser-kept token, their messages.

This is the chat's hot path (benchmarks/inbox.py measures it), so two things here are about speed:

* ``poll`` answers the widget's "anything new?" (every 2 s per open chat) with one small SQL
  statement, and reads messages through the ORM only when there is something to send;
* ``one_writer`` makes the chat's writes queue on a lock in this process when the database is
  SQLite. SQLite lets one connection write at a time; the others wait in its busy handler,
  which sleeps in growing steps (up to 100 ms) however soon the lock is free again. Waiting on
  a Python lock instead, the next writer starts the moment the previous one commits.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
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


_write_lock = threading.RLock()


@contextmanager
def one_writer() -> Iterator[None]:
    """Queue this process's chat writes on a lock when the database is SQLite (see above)."""
    if connection.vendor != "sqlite":
        yield
        return
    with _write_lock:
        yield


def start_visitor_session(*, origin: str) -> Session:
    """A new visitor: the token goes to their browser once; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    with one_writer(), transaction.atomic():
        visitor = ChatVisitor.objects.create(token_hash=ChatVisitor.hash_token(token), origin=origin[:200])
    return Session(visitor, token)


def post_visitor_message(*, visitor: ChatVisitor, text: str) -> Message:
    """Store the visitor's message and let the bot respond; the returned message's
    ``conversation`` is the visitor's, up to date (no need to read it again).

    A message longer than ``MAX_TEXT`` is a ValueError, not cut short: the widget API refuses it
    with a message the visitor sees, who still has the whole text."""
    if len(text.strip()) > MAX_TEXT:
        raise ValueError(f"a chat message can be at most {MAX_TEXT} characters, not {len(text.strip())}")
    services.ready_the_bot()  # a retrain waits here, holding no lock
    with one_writer(), transaction.atomic():
        return _post_visitor_message(visitor, text)


def _post_visitor_message(visitor: ChatVisitor, text: str) -> Message:
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
    return services.receive_customer_message(conversation=conversation, body=text.strip())


def post_visitor_feedback(*, visitor: ChatVisitor, message_id: int, choice: str) -> None:
    if visitor.conversation is None:
        return
    with one_writer(), transaction.atomic():
        services.record_feedback(conversation=visitor.conversation, message_id=message_id, choice=choice)


def poll(token: str, after: int = 0) -> list[dict[str, Any]] | None:
    """The visitor's messages after ``after``; None when the token is unknown.

    One statement finds the visitor and the id of their conversation's latest visible message;
    most polls end there, with nothing new.
    """
    if not token or len(token) > 200:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_poll_sql(), [Direction.INTERNAL, ChatVisitor.hash_token(token)])
        row = cursor.fetchone()
    if row is None:
        return None
    conversation_id, latest = row
    if conversation_id is None or latest is None or latest <= after:
        return []
    return visible_messages(conversation_id, after)


def _poll_sql() -> str:
    # Names from the models' metadata, so a renamed table or column cannot silently break it;
    # the values go as parameters.
    visitors, messages = ChatVisitor._meta, Message._meta

    def q(meta: Any, field: str) -> str:
        return str(connection.ops.quote_name(str(meta.get_field(field).column)))

    vt, mt = connection.ops.quote_name(visitors.db_table), connection.ops.quote_name(messages.db_table)
    conv, token = q(visitors, "conversation"), q(visitors, "token_hash")
    mid, mconv, direction = q(messages, "id"), q(messages, "conversation"), q(messages, "direction")
    latest = f"SELECT MAX(m.{mid}) FROM {mt} m WHERE m.{mconv} = v.{conv} AND m.{direction} <> %s"  # noqa: S608
    return f"SELECT v.{conv}, ({latest}) FROM {vt} v WHERE v.{token} = %s"  # noqa: S608


def visible_messages(conversation: Conversation | int | None, after: int = 0) -> list[dict[str, Any]]:
    """What the visitor may see: everything but internal notes, as plain data (text, never HTML)."""
    if conversation is None:
        return []
    conversation_id = conversation if isinstance(conversation, int) else conversation.pk
    rows = (
        Message.objects.filter(conversation_id=conversation_id, pk__gt=after)
        .exclude(direction=Direction.INTERNAL)
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
