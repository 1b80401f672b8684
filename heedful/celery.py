"""The Celery app. Workers and beat run the same code in embedded and production modes."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
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
