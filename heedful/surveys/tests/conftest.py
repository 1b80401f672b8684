from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def run_tasks_inline() -> Any:
    """Tasks queued on commit run in the test's process, so their email lands in mail.outbox."""
    from heedful.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    """Closed rounds' results are cached; each test starts without another test's entries."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
