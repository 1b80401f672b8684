"""Celery tasks for contacts: thin, idempotent, taking IDs."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


# Acknowledged late: a worker killed mid-import leaves the job undone (its transaction rolled
# back), and the message is delivered again.
@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=6, acks_late=True)
def run_contact_import_task(import_id: int) -> str:
    from heedful.crm.import_jobs import run_contact_import

    return run_contact_import(import_id)


@shared_task
def forget_old_contact_imports_task() -> int:
    """Beat, daily: drop week-old import reports (their error lines quote the files)."""
    from heedful.crm.import_jobs import forget_old_contact_imports

    return forget_old_contact_imports()
