"""The Celery app. Workers and beat run the same code in embedded and production modes."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")

app = Celery("heedful")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections(sender: Any = None, **kwargs: Any) -> None:
    """Drop database connections that are broken or older than CONN_MAX_AGE, as Django does
    around each request (settings.CELERY_DB_REUSE_MAX says why Celery's own closing is off).

    Not for a task run in the caller's process (``apply()``, tests): the connection is the caller's.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections as close

    close()


logger = logging.getLogger(__name__)


class RecoveringScheduler(PersistentScheduler):
    """Celery's file-backed beat schedule, started afresh when its file cannot be read.

    The file only remembers when each periodic task last ran. A worker killed while writing it,
    a full disk or a power cut can leave it truncated, and Celery's own recovery misses that
    case (an EOFError on the first read, celery/celery#346): beat then died at every start, the
    web server and worker went on, and no reminder, SLA check or email retry ever ran again.
    Starting afresh only makes each periodic task run once early; every one is idempotent.
    """

    # Set by PersistentScheduler (celery-types does not declare them).
    schedule_filename: str
    _store: Any

    def setup_schedule(self) -> None:
        try:
            super().setup_schedule()
        except Exception as exc:  # any unreadable file means the same: start afresh
            logger.warning(
                "beat: the schedule file %s could not be read (%r); starting a new one",
                self.schedule_filename,
                exc,
            )
            if self._store is not None:
                with contextlib.suppress(Exception):
                    self._store.close()
            for suffix in self.known_suffixes:
                Path(self.schedule_filename + suffix).unlink(missing_ok=True)
            super().setup_schedule()
