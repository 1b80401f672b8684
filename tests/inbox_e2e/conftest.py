from __future__ import annotations

from heedful.knowledge.tests.fixtures import fake_engine, no_engine, returns_entry, shipping_entry
from tests.inbox_e2e.servers import dovecot, smtp_server

__all__ = [
    "dovecot",
    "fake_engine",
    "no_engine",
    "returns_entry",
    "shipping_entry",
    "smtp_server",
]
