"""Fixtures for workflow tests: tasks run in-process, in order, when a test drains them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from heedful.governance.models import ActionPolicy


class TaskQueue:
    """Stands in for the broker: ``delay`` appends, ``drain`` runs until nothing is left."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = []
        self.ran: list[tuple[str, tuple[Any, ...]]] = []

    def fake(self, name: str, fn: Callable[..., Any]) -> Any:
        queue = self

        class _Fake:
            def delay(self, *args: Any) -> None:
                queue.queued.append((name, fn, args))

        return _Fake()

    def names(self) -> list[str]:
        return [name for name, _fn, _args in self.queued]

    def drain(self, limit: int = 500) -> list[str]:
        ran: list[str] = []
        for _ in range(limit):
            if not self.queued:
                return ran
            name, fn, args = self.queued.pop(0)
            fn(*args)
            ran.append(name)
            self.ran.append((name, args))
        raise AssertionError(f"tasks still queued after {limit}: {self.names()[:10]}")


@pytest.fixture
def tasks(monkeypatch: pytest.MonkeyPatch) -> TaskQueue:
    from heedful.governance import services as trust
    from heedful.governance import tasks as trust_tasks
    from heedful.workflows import outbox, services
    from heedful.workflows import tasks as wf_tasks

    queue = TaskQueue()
    monkeypatch.setattr(wf_tasks, "match_event_task", queue.fake("match", services.match_event))
    monkeypatch.setattr(wf_tasks, "advance_run_task", queue.fake("advance", services.advance_run))
    monkeypatch.setattr(wf_tasks, "deliver_outbox_task", queue.fake("deliver", outbox.deliver))
    monkeypatch.setattr(wf_tasks, "match_events_task", queue.fake("match-many", services.match_events))
    monkeypatch.setattr(wf_tasks, "advance_runs_task", queue.fake("advance-many", services.advance_runs))
    monkeypatch.setattr(
        wf_tasks, "deliver_outbox_batch_task", queue.fake("deliver-many", outbox.deliver_many)
    )
    monkeypatch.setattr(trust_tasks, "execute_action_task", queue.fake("execute", trust.execute_action))
    return queue


@pytest.fixture
def auto_email(db: Any) -> None:
    """The owner allowed workflow emails to go out on their own."""
    ActionPolicy.objects.create(action_type="workflows.send_email", mode="auto")
