"""Email in: parse whatever arrives, thread it, store it; poll IMAP without ever duplicating.

Parsing never trusts the message: a wrong or missing charset, missing headers, an unreadable
date, deep multipart nesting or a huge attachment each become a note in ``parse_problems``,
not an exception. A message that cannot be parsed at all is still stored, with its original
kept in the data directory, so nothing is lost and one broken message never blocks the rest.

``poll_mailbox`` runs every minute from beat and, where the server has IDLE, the moment new mail
arrives (heedful/inbox/idle.py, the ``heedful imap-idle`` process); two polls at once store each
message once.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header
from email.message import Message as EmailMessage
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from heedful.inbox import conf, services
from heedful.inbox.htmltext import html_to_text
from heedful.inbox.models import Attachment, Channel, Direction, MailboxState, Message

log = logging.getLogger(__name__)
MAX_PARTS = 500  # a message with more parts than this is read up to here; the rest stays in the original


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    size: int
    payload: bytes | None  # None when over the size limit


@dataclass
class ParsedEmail:
    message_id: str
    in_reply_to: str
    references: list[str]
    from_email: str
    from_name: str
    subject: str
    date: datetime | None
    body: str
    attachments: list[ParsedAttachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unreadable: bool = False


def _decode_bytes(data: bytes, charset: str | None, problems: list[str]) -> str:
    charset = (charset or "").strip().lower() or None
    for name in dict.fromkeys([charset, "utf-8", "cp1252"]):
        if name is None:
            continue
        try:
            return data.decode(name)
        except LookupError:
            problems.append(f"unknown charset {name!r}")
        except UnicodeDecodeError:
            if name == charset:
                problems.append(f"text is not valid {name}")
    return data.decode("utf-8", errors="replace")


def _header(msg: EmailMessage, name: str, problems: list[str]) -> str:
    try:
        raw = msg.get(name)
    except Exception:
        problems.append(f"unreadable {name} header")
        return ""
    if raw is None:
        return ""
    try:
        parts = decode_header(str(raw))
    except Exception:
        problems.append(f"unreadable {name} header")
        return str(raw)
    text = "".join(
        _decode_bytes(part, charset, problems) if isinstance(part, bytes) else part for part, charset in parts
    )
    return " ".join(text.split())


def _msg_ids(value: str) -> list[str]:
    return [
        token for token in value.replace(",", " ").split() if token.startswith("<") and token.endswith(">")
    ]


def _walk(msg: EmailMessage) -> list[EmailMessage]:
    """All leaf parts, without recursion (a deeply nested message must not overflow the stack)."""
    leaves: list[EmailMessage] = []
    stack = [msg]
    while stack and len(leaves) < MAX_PARTS:
        part = stack.pop()
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, EmailMessage)]))
        else:
            leaves.append(part)
    return leaves


def parse_email(raw: bytes) -> ParsedEmail:
    problems: list[str] = []
    try:
        msg = message_from_bytes(raw, policy=compat32)
        leaves = _walk(msg)
    except (RecursionError, Exception) as exc:  # the email package is lenient; this is the last resort
        return _unreadable(raw, f"could not be parsed ({type(exc).__name__})")
    message_id = (_msg_ids(_header(msg, "Message-ID", problems)) or [""])[0]
    if not message_id:
        problems.append("no Message-ID")
        message_id = f"<missing-{hashlib.sha256(raw).hexdigest()[:32]}@heedful.invalid>"
    senders = getaddresses([_header(msg, "From", problems)])
    from_name, from_email = senders[0] if senders else ("", "")
    if "@" not in from_email:
        problems.append("no sender address")
        from_email = ""
    date = None
    date_text = _header(msg, "Date", problems)
    if date_text:
        try:
            date = parsedate_to_datetime(date_text)
            if date.tzinfo is None:
                date = date.replace(tzinfo=UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            problems.append(f"unreadable date {date_text[:40]!r}")
    else:
        problems.append("no date")
    body, attachments = _body_and_attachments(leaves, problems)
    return ParsedEmail(
        message_id=message_id,
        in_reply_to=(_msg_ids(_header(msg, "In-Reply-To", problems)) or [""])[0],
        references=_msg_ids(_header(msg, "References", problems)),
        from_email=from_email.lower(),
        from_name=from_name,
        subject=_header(msg, "Subject", problems)[:300],
        date=date,
        body=body,
        attachments=attachments,
        problems=problems,
    )


def _body_and_attachments(
    leaves: list[EmailMessage], problems: list[str]
) -> tuple[str, list[ParsedAttachment]]:
    plain: str | None = None
    html: str | None = None
    attachments: list[ParsedAttachment] = []
    limit = conf.max_attachment_bytes()
    for part in leaves:
        try:
            content_type = part.get_content_type()
            filename = part.get_filename()
            disposition = (part.get("Content-Disposition") or "").lower()
            decoded = part.get_payload(decode=True)
            payload = decoded if isinstance(decoded, bytes) else b""
        except Exception:
            problems.append("an unreadable part was skipped")
            continue
        if filename or disposition.startswith("attachment") or not content_type.startswith("text/"):
            name = _header_text(filename, problems) or f"attachment-{len(attachments) + 1}"
            too_big = len(payload) > limit
            if too_big:
                problems.append(f"attachment {name!r} is larger than the limit and was not stored")
            attachments.append(
                ParsedAttachment(name[:255], content_type, len(payload), None if too_big else payload)
            )
            continue
        text = _decode_bytes(payload, part.get_content_charset(), problems)
        if content_type == "text/html" and html is None:
            html = text
        elif content_type != "text/html" and plain is None:
            plain = text
    if plain is not None and plain.strip():
        return plain.strip(), attachments
    if html is not None:
        return html_to_text(html), attachments
    problems.append("no text in the message")
    return "", attachments


def _header_text(value: str | None, problems: list[str]) -> str:
    if not value:
        return ""
    try:
        return "".join(
            _decode_bytes(p, c, problems) if isinstance(p, bytes) else p for p, c in decode_header(value)
        )
    except Exception:
        return str(value)


def _unreadable(raw: bytes, problem: str) -> ParsedEmail:
    text = raw[:20000].decode("utf-8", errors="replace")
    _, _, body = text.partition("\n\n")
    return ParsedEmail(
        message_id=f"<unreadable-{hashlib.sha256(raw).hexdigest()[:32]}@heedful.invalid>",
        in_reply_to="",
        references=[],
        from_email="",
        from_name="",
        subject="(unreadable email)",
        date=None,
        body=(body or text)[:5000],
        problems=[problem],
        unreadable=True,
    )


def _keep_original(raw: bytes) -> str:
    name = f"inbox/raw/{timezone.now():%Y/%m}/{hashlib.sha256(raw).hexdigest()}.eml"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(raw))
    return name


@transaction.atomic
def ingest_email(raw: bytes, *, source_key: str | None = None) -> Message | None:
    """Store one inbound email in its conversation; None when it was stored before."""
    if source_key and Message.objects.filter(source_key=source_key).exists():
        return None
    return _ingest_parsed(parse_email(raw), raw, source_key)


@transaction.atomic
def ingest_unreadable(raw: bytes, *, source_key: str | None, reason: str) -> Message | None:
    """Last resort after ingesting failed: keep the original and show what can be shown."""
    if source_key and Message.objects.filter(source_key=source_key).exists():
        return None
    return _ingest_parsed(_unreadable(raw, reason), raw, source_key)


def _ingest_parsed(parsed: ParsedEmail, raw: bytes, source_key: str | None) -> Message | None:
    if Message.objects.filter(direction=Direction.IN, email_message_id=parsed.message_id).exists():
        return None  # the same email seen again (another UIDVALIDITY, a copy in another folder)
    conversation = _thread(parsed)
    kept = _keep_original(raw) if parsed.problems else ""
    email_fields: dict[str, Any] = {
        "email_message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": " ".join(parsed.references)[-4000:],
        "email_from": parsed.from_email,
        "email_date": parsed.date,
        "source_key": source_key,
        "parse_problems": parsed.problems,
        "raw_file": kept,
    }
    message = services.receive_customer_message(
        conversation=conversation, body=parsed.body, email=email_fields, bot=not parsed.unreadable
    )
    if parsed.unreadable and conversation.bot_may_answer:
        services.hand_off(conversation, reason="the email could not be read completely", trigger=message)
        conversation.save()
    for attachment in parsed.attachments:
        _store_attachment(message, attachment)
    return message


def _thread(parsed: ParsedEmail) -> Any:
    ids = [i for i in [parsed.in_reply_to, *reversed(parsed.references)] if i]
    if ids:
        earlier = (
            Message.objects.filter(email_message_id__in=ids, conversation__channel=Channel.EMAIL)
            .select_related("conversation")
            .order_by("-created_at")
            .first()
        )
        if earlier is not None:
            return earlier.conversation
    return services.start_conversation(
        channel=Channel.EMAIL,
        customer_email=parsed.from_email,
        customer_name=parsed.from_name,
        subject=parsed.subject,
    )


def _store_attachment(message: Message, attachment: ParsedAttachment) -> None:
    path = ""
    if attachment.payload is not None:
        safe = Path(attachment.filename.replace("\\", "/")).name or "attachment"
        path = default_storage.save(
            f"inbox/attachments/{uuid.uuid4().hex}/{safe}", ContentFile(attachment.payload)
        )
    Attachment.objects.create(
        message=message,
        filename=attachment.filename,
        content_type=attachment.content_type[:255],
        size=attachment.size,
        stored_path=path,
        too_large=attachment.payload is None,
    )


# --- IMAP ------------------------------------------------------------------------------------


@dataclass
class PollResult:
    stored: int = 0
    skipped: int = 0
    failed: list[int] = field(default_factory=list)


def poll_mailbox(
    *, host: str, port: int, user: str, password: str, mailbox: str = "INBOX", ssl: bool = True
) -> PollResult:
    """Read new messages by UID. Known UIDs are never fetched again; a failure on one message is
    recorded and the others are still read (the failed one is retried on the next poll)."""
    key = f"{host}:{port}/{user}/{mailbox}"
    state, _ = MailboxState.objects.get_or_create(key=key)
    client: imaplib.IMAP4 = (
        imaplib.IMAP4_SSL(host, port, timeout=60) if ssl else imaplib.IMAP4(host, port, timeout=60)
    )
    result = PollResult()
    try:
        client.login(user, password)
        client.select(mailbox, readonly=True)
        uidvalidity = int((client.response("UIDVALIDITY")[1] or [b"0"])[0] or 0)
        if uidvalidity != state.uidvalidity:
            state.uidvalidity, state.last_uid = uidvalidity, 0
        _typ, data = client.uid("SEARCH", None, f"UID {state.last_uid + 1}:*")  # type: ignore[arg-type]
        uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > state.last_uid)
        first_failure: int | None = None
        for uid in uids:
            source_key = f"{key}/{uidvalidity}/{uid}"
            if Message.objects.filter(source_key=source_key).exists():
                result.skipped += 1
                continue
            raw = _fetch(client, uid)  # a lost connection raises: stop here, the next poll continues
            services.ready_the_bot(customer_waiting=False)  # before ingest_email's transaction
            try:
                stored = ingest_email(raw, source_key=source_key)
            except Exception as exc:
                if isinstance(exc, IntegrityError) and Message.objects.filter(source_key=source_key).exists():
                    # Another poller (the IDLE listener, the beat's poll) stored it a moment ago.
                    result.skipped += 1
                    continue
                log.exception("Could not store message UID %s of %s", uid, key)
                try:
                    stored = ingest_unreadable(
                        raw, source_key=source_key, reason=f"processing failed: {exc!r}"[:200]
                    )
                except Exception:
                    log.exception("Could not keep message UID %s of %s either", uid, key)
                    result.failed.append(uid)
                    first_failure = first_failure or uid
                    continue
            if stored is None:
                result.skipped += 1
            else:
                result.stored += 1
        highest = uids[-1] if uids else state.last_uid
        state.last_uid = (first_failure - 1) if first_failure else max(highest, state.last_uid)
        state.last_error = f"UIDs not stored: {result.failed}" if result.failed else ""
    except Exception as exc:
        state.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        state.last_polled_at = timezone.now()
        state.save()
        with contextlib.suppress(Exception):  # the connection may already be gone
            client.logout()
    return result


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes:
    _typ, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return bytes(item[1])
    raise ValueError(f"The server returned no body for UID {uid}")
