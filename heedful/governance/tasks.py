"""Celery tasks for the approval queue. Each is idempotent and safe to retry."""

from __future__ import annotations

from celery import shared_task

from heedful.governance import services


@shared_task(bind=True, max_retries=5, default_retry_delay=30, acks_late=True)
def execute_action_task(self: object, proposal_id: int) -> None:
    services.execute_action(proposal_id)


@shared_task
def requeue_stalled_actions_task() -> int:
    """Queue again approved actions whose task was lost with a broker or a worker."""
    ids = services.stalled_approved_ids()
    for proposal_id in ids:
        execute_action_task.delay(proposal_id)
    return len(ids)


@shared_task
def expire_proposals_task() -> int:
    return services.expire_proposals()
