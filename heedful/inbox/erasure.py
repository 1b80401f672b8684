"""What the inbox holds about a person, found and erased for ``heedful.crm.erasure.erase_contact``.

A person's conversations are those linked to the contact, those with the contact's address as
the customer's (an email thread from before the contact existed, an order update), those with
an inbound email from that address, and chat conversations in which the visitor gave the
address (as chat visitors do to prove they own an order). Each goes whole: its messages,
attachments (and their files), SLA breaches and notices, chat visitors and outgoing webhook
deliveries. Orders placed with the address go too, with the updates told about them: the shop
system stays their record of account. In the embedded mode, where outgoing mail is kept as
files (data/sent-mail), the copies of messages naming the address or linking to one of the
conversations go as well.

CSAT answers are kept without the person: the question loses its conversation, message,
decision and comment, and keeps the agent, the rating and when it was asked and answered, so
the team's results do not change when a customer is erased.

The audit events about the conversations and orders (the customer's name in the conversation's
title, the agent's reply and note texts) are redacted, and the decisions and proposals made on
the conversations and orders are scrubbed, with their audit events (``forget_subjects``).
``subjects_of`` names the conversations and orders for the other apps' erasers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse

from heedful.crm.erasure import AUDIT_EVENTS_REDACTED, forget_subjects
from heedful.crm.models import Contact
from heedful.governance.services import redact_audit_events
from heedful.inbox.models import (
    Attachment,
    ChatVisitor,
    Conversation,
    CsatRequest,
    Direction,
    Message,
    Order,
    OrderUpdate,
    SlaBreach,
    SlaNotice,
    WebhookDelivery,
)
from heedful.outgoing_mail import mail_is_delivered

log = logging.getLogger(__name__)


def conversations_of(contact: Contact) -> list[int]:
    """Ids of every conversation that is about this person (see the module's docstring)."""
    found = Q(contact_id=contact.pk)
    email = contact.email.strip().lower()
    if email:
        inbound = Message.objects.filter(direction=Direction.IN)
        found |= (
            Q(customer_email__iexact=email)
            | Q(pk__in=inbound.filter(email_from__iexact=email).values("conversation_id"))
            | Q(
                customer_email="",
                pk__in=inbound.filter(body__icontains=email).values("conversation_id"),
            )
        )
    return sorted(Conversation.objects.filter(found).values_list("pk", flat=True))


def _orders_of(contact: Contact) -> QuerySet[Order]:
    email = contact.email.strip().lower()
    return Order.objects.filter(customer_email__iexact=email) if email else Order.objects.none()


def subjects_of(contact: Contact) -> dict[str, list[int]]:
    """The person's conversations and orders, for ``crm.erasure.subjects_of`` (other apps'
    erasers reach what they hold about them, the erasure scrubs the decisions about them)."""
    return {
        "conversation": conversations_of(contact),
        "order": sorted(_orders_of(contact).values_list("pk", flat=True)),
    }


def erase_person(contact: Contact, *, dry_run: bool, subjects: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Count (``dry_run``) or erase what the inbox holds about the contact; rows per kind."""
    ids = conversations_of(contact)
    email = contact.email.strip().lower()
    orders = _orders_of(contact)
    in_conversations = {"conversation_id__in": ids}
    kinds = {
        "inbox.conversations": Conversation.objects.filter(pk__in=ids),
        "inbox.messages": Message.objects.filter(**in_conversations),
        "inbox.attachments": Attachment.objects.filter(message__conversation_id__in=ids),
        "inbox.chat_visitors": ChatVisitor.objects.filter(**in_conversations),
        "inbox.sla_breaches": SlaBreach.objects.filter(**in_conversations),
        "inbox.sla_notices": SlaNotice.objects.filter(breach__conversation_id__in=ids),
        "inbox.webhook_deliveries": WebhookDelivery.objects.filter(payload__conversation__id__in=ids),
        "inbox.orders": orders,
        "inbox.order_updates": OrderUpdate.objects.filter(order__in=orders),
        "inbox.csat_anonymised": CsatRequest.objects.filter(**in_conversations),
    }
    counts = {name: rows.count() for name, rows in kinds.items()}
    counts["inbox.sent_mail_copies"] = erase_sent_mail(email, ids, dry_run=True)
    order_ids = list(orders.values_list("pk", flat=True))
    forgotten: dict[str, int] = {}
    for kind, pks in (("conversation", ids), ("order", order_ids)):
        for name, n in forget_subjects(
            subject_type=kind, subject_ids=pks, app="inbox", dry_run=dry_run
        ).items():
            forgotten[name] = forgotten.get(name, 0) + n
    counts[AUDIT_EVENTS_REDACTED] = (
        redact_audit_events(object_type="conversation", object_ids=ids, dry_run=dry_run)
        + redact_audit_events(object_type="order", object_ids=order_ids, dry_run=dry_run)
        + forgotten.pop(AUDIT_EVENTS_REDACTED)
    )
    counts.update(forgotten)
    if dry_run:
        return counts
    files = _files_of(ids)
    CsatRequest.objects.filter(**in_conversations).update(
        conversation=None, message=None, decision=None, comment=""
    )
    ChatVisitor.objects.filter(**in_conversations).delete()
    WebhookDelivery.objects.filter(payload__conversation__id__in=ids).delete()
    orders.delete()  # their updates go with them (cascade)
    # Messages, attachments, breaches and notices go with their conversation (cascade).
    Conversation.objects.filter(pk__in=ids).delete()
    transaction.on_commit(partial(_delete_files, files))
    transaction.on_commit(partial(erase_sent_mail, email, ids, dry_run=False))
    return counts


# Django's file-based mail backend (the embedded mode's outgoing mail, data/sent-mail) writes
# each message followed by this line; one file may hold several people's messages.
_SENT_MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def _sent_mail_dir() -> Path | None:
    if mail_is_delivered():
        return None
    path = Path(getattr(settings, "EMAIL_FILE_PATH", "") or "")
    return path if str(path) and path.is_dir() else None


def erase_sent_mail(email: str, conversation_ids: list[int], *, dry_run: bool) -> int:
    """Count or remove the copies of outgoing mail about the person (file backend only): those
    naming the address, and those linking to one of their conversations (an SLA notice to an
    agent names the customer and links the conversation, without the address).

    A file keeps its other messages; a file left empty goes. Files are not transactional:
    ``erase_person`` calls this only after its transaction committed.
    """
    folder = _sent_mail_dir()
    if folder is None:
        return 0
    needles = [email.lower().encode()] if email else []
    # "/inbox/12/" is a link to conversation 12 and never part of one to 123.
    needles += [reverse("inbox:conversation", args=[pk]).encode() for pk in conversation_ids]
    if not needles:
        return 0
    removed = 0
    for path in sorted(folder.glob("*.log")):
        parts = [p for p in path.read_bytes().split(_SENT_MAIL_SEPARATOR) if p.strip()]
        kept = [p for p in parts if not any(n in p.lower() for n in needles)]
        if len(kept) == len(parts):
            continue
        removed += len(parts) - len(kept)
        if dry_run:
            continue
        if kept:
            path.write_bytes(b"".join(p + _SENT_MAIL_SEPARATOR for p in kept))
        else:
            path.unlink()
    return removed


def _files_of(conversation_ids: list[int]) -> list[str]:
    stored = Attachment.objects.filter(message__conversation_id__in=conversation_ids).exclude(stored_path="")
    raw = Message.objects.filter(conversation_id__in=conversation_ids).exclude(raw_file="")
    return sorted({*stored.values_list("stored_path", flat=True), *raw.values_list("raw_file", flat=True)})


def _delete_files(names: Iterable[str]) -> None:
    """After the commit: a rolled-back erasure must not have lost the files."""
    for name in names:
        # Originals are stored by content hash: another conversation may hold the same file.
        if Message.objects.filter(raw_file=name).exists():
            continue
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("Could not delete %s after an erasure", name, exc_info=True)
