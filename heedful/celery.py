"""The Celery app. Workers and beat run the same code in embedded and production modes."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")

app = Celery("heedful")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
