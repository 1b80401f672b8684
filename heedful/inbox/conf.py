"""The inbox's settings, read when used (never at import) with defaults that work embedded.

Each reads ``settings.<NAME>`` so an installation sets them in the environment through
heedful/settings.py; see the lead's list in the inbox report for the variable names.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def _get(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def max_unconfirmed_answers() -> int:
    """How many bot answers in a row may go out before the customer says one helped."""
    return int(_get("HEEDFUL_BOT_MAX_UNCONFIRMED_ANSWERS", 2))


def bot_ready_wait() -> float:
    """Seconds a customer message waits for the FAQ matcher to finish retraining after a
    knowledge-base edit before a person takes the message instead."""
    return float(_get("HEEDFUL_BOT_READY_WAIT_SECONDS", 10))


def max_failed_order_checks() -> int:
    return int(_get("HEEDFUL_BOT_MAX_FAILED_ORDER_CHECKS", 2))


def handoff_frustration() -> float | None:
    """The frustration score (0..1) from which the bot hands off at once; None: never."""
    percent = int(_get("HEEDFUL_BOT_HANDOFF_FRUSTRATION", 75))
    return None if percent <= 0 else min(percent, 100) / 100


def business_hours() -> str:
    return str(_get("HEEDFUL_BUSINESS_HOURS", "mon-fri 09:00-17:00"))


def business_time_zone() -> str:
    return str(_get("BUSINESS_TIME_ZONE", "UTC"))


def sla_first_response_minutes() -> int:
    """Business minutes within which a person answers a handed-off conversation."""
    return int(_get("HEEDFUL_SLA_FIRST_RESPONSE_MINUTES", 240))


def sla_resolution_minutes() -> int:
    return int(_get("HEEDFUL_SLA_RESOLUTION_MINUTES", 60 * 8 * 3))


def round_robin() -> bool:
    """Assign handed-off conversations to agents in turn (else they wait unassigned)."""
    return bool(_get("HEEDFUL_INBOX_ROUND_ROBIN", True))


def auto_resolve_days() -> int | None:
    """Days without a message after which a bot or waiting conversation is resolved; None: never."""
    days = int(_get("HEEDFUL_INBOX_AUTO_RESOLVE_DAYS", 7))
    return None if days <= 0 else days


def widget_allowed_origins() -> list[str]:
    """Origins (scheme://host[:port]) whose pages may talk to the chat API; our own always may."""
    configured = _get("HEEDFUL_WIDGET_ALLOWED_ORIGINS", [])
    if isinstance(configured, str):
        configured = [o for o in configured.split(",") if o.strip()]
    own = str(_get("SITE_URL", "")).rstrip("/")
    return [o.strip().rstrip("/") for o in [*configured, own] if o.strip()]


def chat_rate_limit() -> tuple[int, int]:
    """(messages, per seconds) one chat visitor may send."""
    return int(_get("HEEDFUL_CHAT_RATE_LIMIT", 20)), int(_get("HEEDFUL_CHAT_RATE_WINDOW", 60))


def chat_sessions_per_ip() -> tuple[int, int]:
    return int(_get("HEEDFUL_CHAT_SESSIONS_PER_IP", 30)), 3600


def max_attachment_bytes() -> int:
    return int(_get("HEEDFUL_INBOX_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))


def max_body_chars() -> int:
    return int(_get("HEEDFUL_INBOX_MAX_BODY_CHARS", 100_000))


def support_address() -> str:
    return str(_get("HEEDFUL_SUPPORT_EMAIL", _get("DEFAULT_FROM_EMAIL", "heedful@localhost")))


def imap() -> dict[str, Any]:
    """IMAP account to poll; empty host means no email channel."""
    return {
        "host": str(_get("HEEDFUL_IMAP_HOST", "")),
        "port": int(_get("HEEDFUL_IMAP_PORT", 993)),
        "user": str(_get("HEEDFUL_IMAP_USER", "")),
        "password": str(_get("HEEDFUL_IMAP_PASSWORD", "")),
        "mailbox": str(_get("HEEDFUL_IMAP_MAILBOX", "INBOX")),
        "ssl": bool(_get("HEEDFUL_IMAP_SSL", True)),
    }


def email_max_attempts() -> int:
    return int(_get("HEEDFUL_EMAIL_MAX_ATTEMPTS", 6))


def data_dir() -> str:
    return str(_get("DATA_DIR", "data"))


def business_name() -> str:
    return str(_get("BUSINESS_NAME", "heedful"))


def csat_after_resolve() -> bool:
    """Ask the customer how it went when a conversation is resolved. Even when on, the inbox
    stands down for a conversation that an enabled workflow with an ``ask_csat`` step will
    ask about (the gallery's "CSAT after resolution"); either way it is asked once."""
    return bool(_get("HEEDFUL_INBOX_CSAT_AFTER_RESOLVE", True))


def csat_link_days() -> int:
    """How long the rating links in a CSAT question stay valid."""
    return int(_get("HEEDFUL_INBOX_CSAT_LINK_DAYS", 60))


def site_url() -> str:
    return str(_get("SITE_URL", "http://localhost:8000")).rstrip("/")
