"""Celery tasks for the approval queue. Each is idempotent and safe to retry."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError

from heedful.governance import services


# A locked or briefly unreachable database is worth another try; a bad action is not
# (execute_action records ActionError as a failed proposal instead of raising).
@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=6, acks_late=True)
def execute_action_task(proposal_id: int) -> None:
    services.execute_action(proposal_id)


@shared_task
def requeue_stalled_actions_task(older_than_seconds: float = 120) -> int:
    """Queue again approved actions whose task was lost with a broker or a worker.

    Queuing one twice is harmless: execute_action runs an action at most once.
    """
    ids = services.stalled_approved_ids(timedelta(seconds=older_than_seconds))
    for proposal_id in ids:
        execute_action_task.delay(proposal_id)
    return len(ids)


@shared_task
def expire_proposals_task() -> int:
    return services.expire_proposals()
