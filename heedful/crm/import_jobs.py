"""Contact imports from the web page run in the background, and report when done.

A file may hold 50,000 rows. Measured on this project's 2-core machine, importing that many new
contacts took 25.5 s on PostgreSQL and updating them 75.4 s: past gunicorn's 30 s, so the web
worker was killed and the whole (single-transaction) import rolled back, every time. Now the
page stores the upload and a task imports it; the page shows the report when it is there.

The import is one transaction together with marking the job done, so a worker killed half way
leaves nothing written and the job not done; the task is acknowledged late and runs again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import OperationalError, transaction
from django.utils import timezone

from heedful.crm.importing import MAX_IMPORT_BYTES
from heedful.crm.models import ContactImport, ImportStatus
from heedful.crm.services import import_contacts_csv

if TYPE_CHECKING:
    from heedful.accounts.models import User

log = logging.getLogger(__name__)

KEEP_REPORTS = timedelta(days=7)


def queue_contact_import(*, file: Any, user: User, all_or_nothing: bool) -> ContactImport:
    """Keep the uploaded file and have the worker import it once this transaction commits."""
    from heedful.crm.tasks import run_contact_import_task

    raw = file.read(MAX_IMPORT_BYTES + 1) if hasattr(file, "read") else file
    job = ContactImport.objects.create(
        created_by=user,
        filename=str(getattr(file, "name", "") or "contacts.csv")[:255],
        content=bytes(raw),
        all_or_nothing=all_or_nothing,
    )
    transaction.on_commit(lambda: run_contact_import_task.delay(job.pk))
    return job


def run_contact_import(import_id: int) -> str:
    """Import the job's file, once; returns what happened, for the task's log."""
    now = timezone.now()
    # Shown on the page while it runs; the claim that counts is the row lock below.
    ContactImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now
    )
    try:
        with transaction.atomic():
            job = ContactImport.objects.select_for_update().filter(pk=import_id).first()
            if job is None or job.finished:
                return "already done"  # a repeated delivery, or the job was forgotten
            if job.created_by is None:
                raise ValueError("The account that uploaded the file no longer exists.")
            report = import_contacts_csv(
                file=bytes(job.content), user=job.created_by, all_or_nothing=job.all_or_nothing
            )
            job.status = ImportStatus.DONE
            job.report = report.as_dict()
            job.content = b""  # the file's personal data is not kept once imported
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "report", "content", "finished_at"])
            return job.report["summary"]
    except OperationalError:
        raise  # the database was busy or gone: the task retries
    except Exception as exc:
        log.exception("Contact import #%s failed", import_id)
        ContactImport.objects.filter(pk=import_id).update(
            status=ImportStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            content=b"",
            finished_at=timezone.now(),
        )
        return "failed"


def forget_old_contact_imports(now: Any = None) -> int:
    """Delete finished imports older than a week: their reports quote the files' rows.

    An upload still waiting after a week (no worker ran all that time) is not imported that
    late, when the person who sent it has long moved on: it fails, saying why, and its file
    goes; the failure is deleted a week later like any report.
    """
    now = now or timezone.now()
    cutoff = now - KEEP_REPORTS
    ContactImport.objects.filter(finished_at__isnull=True, created_at__lt=cutoff).update(
        status=ImportStatus.FAILED,
        error="Not imported: no background worker ran for a week after the upload. Upload it again.",
        content=b"",
        finished_at=now,
    )
    deleted, _by_model = ContactImport.objects.filter(finished_at__lt=cutoff).delete()
    return deleted
