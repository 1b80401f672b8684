"""Celery tasks for workflows. Each takes ids, is idempotent and safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from heedful.workflows import outbox, services


# A locked or briefly unreachable database is worth another try; a failing step is not
# retried here: the engine records it and schedules its own backoff, visible on the run.
@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8, acks_late=True)
def match_event_task(event_id: int) -> int:
    return len(services.match_event(event_id))


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8, acks_late=True)
def advance_run_task(run_id: int) -> int:
    return services.advance_run(run_id)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8, acks_late=True)
def deliver_outbox_task(message_id: int) -> str:
    return outbox.deliver(message_id)


@shared_task
def sweep_workflows_task() -> dict[str, int]:
    """Beat: due waits and retries, decided approvals, lost tasks, due outbox messages."""
    return services.sweep()


@shared_task(acks_late=True)
def noop_task() -> None:
    """Does nothing: ``benchmarks/workflows.py`` measures raw broker and worker overhead with it."""
