from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from heedful.knowledge.tests.fixtures import fake_engine, no_engine, returns_entry, shipping_entry
from tests.browser import conftest as browser_conftest
from tests.inbox_e2e.servers import dovecot, smtp_server

__all__ = [
    "dovecot",
    "fake_engine",
    "no_engine",
    "returns_entry",
    "shipping_entry",
    "smtp_server",
]


def _running_browser() -> Any | None:
    from playwright.sync_api import Browser

    return next((o for o in gc.get_objects() if isinstance(o, Browser) and o.is_connected()), None)


@pytest.fixture(scope="package")  # closed after these tests, so a later Playwright can start
def browser() -> Iterator[Any]:
    """tests/browser's Chromium. Playwright's sync API allows one instance per thread, and
    tests/browser keeps its session-wide instance open, so when those tests ran first in this
    session their browser is reused instead of starting a second Playwright."""
    running = _running_browser()  # tests/browser's, when those ran first
    if running is not None:
        yield running
        return
    yield from browser_conftest.browser.__wrapped__()  # type: ignore[attr-defined]
