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


# Batches, for bulk work (an import, a campaign enrolling thousands): one task per hundred
# events or runs instead of one each, so the broker round trip is paid once per batch.
@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8, acks_late=True)
def match_events_task(event_ids: list[int]) -> int:
    return len(services.match_events(event_ids))


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8, acks_late=True)
def advance_runs_task(run_ids: list[int]) -> int:
    return services.advance_runs(run_ids)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8, acks_late=True)
def deliver_outbox_batch_task(message_ids: list[int]) -> int:
    return outbox.deliver_many(message_ids)


@shared_task
def sweep_workflows_task() -> dict[str, int]:
    """Beat: due waits and retries, decided approvals, lost tasks, due outbox messages."""
    return services.sweep()


@shared_task(acks_late=True)
def noop_task() -> None:
    """Does nothing: ``benchmarks/workflows.py`` measures raw broker and worker overhead with it."""
