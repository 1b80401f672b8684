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
