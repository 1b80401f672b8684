"""The home page and /healthz say when the scheduler or the worker stopped running jobs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from heedful.accounts.models import User
from heedful.brief.queries import background_health
from heedful.brief.services import record_heartbeat
from heedful.brief.tasks import record_heartbeat_task
from heedful.celery import app as celery_app

pytestmark = pytest.mark.django_db


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_beat_sends_the_heartbeat_every_minute_to_a_task_the_worker_knows() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["record-heartbeat"]
    assert entry == {"task": "heedful.brief.tasks.record_heartbeat_task", "schedule": 60.0}
    assert entry["task"] in celery_app.tasks


def test_a_fresh_installation_is_not_stale_until_its_first_account_is_five_minutes_old(owner: User) -> None:
    now = timezone.now()
    assert background_health(now).stale is False
    assert background_health(now + timedelta(minutes=6)).stale is True
    assert background_health(now + timedelta(minutes=6)).last_run is None


def test_the_heartbeat_task_marks_the_background_alive_and_a_silent_one_goes_stale(owner: User) -> None:
    ran_at = datetime.fromisoformat(record_heartbeat_task.apply().get())
    health = background_health(ran_at + timedelta(minutes=5))
    assert (health.last_run, health.stale, health.minutes_since) == (ran_at, False, 5)
    assert background_health(ran_at + timedelta(minutes=5, seconds=1)).stale is True
    record_heartbeat(ran_at + timedelta(minutes=7))  # idempotent: one row, the latest time
    assert background_health(ran_at + timedelta(minutes=8)).stale is False


def test_the_owner_is_told_when_background_jobs_stopped(owner: User, agent: User) -> None:
    record_heartbeat(timezone.now() - timedelta(minutes=42, seconds=10))
    page = _signed_in(owner).get("/").content.decode()
    assert 'id="background-stalled"' in page
    assert "(42 minutes)." in page
    assert "Approved actions, reminders, outgoing email and SLA checks are waiting" in page
    # Agents cannot act on it (nor approve what waits), so their page stays as it was.
    assert 'id="background-stalled"' not in _signed_in(agent).get("/").content.decode()
    record_heartbeat()
    assert 'id="background-stalled"' not in _signed_in(owner).get("/").content.decode()


def test_never_run_is_said_as_such(owner: User) -> None:
    User.objects.filter(pk=owner.pk).update(date_joined=timezone.now() - timedelta(hours=2))
    page = _signed_in(owner).get("/").content.decode()
    assert "Background jobs have never run on this installation." in page


def test_healthz_reports_the_background_without_failing_the_web_process(client: Any, owner: User) -> None:
    at = record_heartbeat(timezone.now() - timedelta(minutes=30))
    body = client.get("/healthz").json()
    assert body == {"status": "ok", "background": {"last_run": at.isoformat(), "stale": True}}
    record_heartbeat(at + timedelta(minutes=30))
    assert client.get("/healthz").json()["background"]["stale"] is False
