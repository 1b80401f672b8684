from heedful.knowledge.tests.fixtures import fake_engine, no_engine, returns_entry, shipping_entry
from tests.browser.conftest import browser, page
from tests.inbox_e2e.servers import dovecot, smtp_server

__all__ = [
    "browser",
    "dovecot",
    "fake_engine",
    "no_engine",
    "page",
    "returns_entry",
    "shipping_entry",
    "smtp_server",
]
