"""Writes of the brief app."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from heedful.accounts.models import User
from heedful.brief.models import Heartbeat, SetupListHidden
from heedful.governance.services import record_audit

SCHEDULER = "scheduler"


def record_heartbeat(now: datetime | None = None) -> datetime:
    """Note that the scheduler and a worker are alive (idempotent: the row holds the latest)."""
    at = now or timezone.now()
    Heartbeat.objects.update_or_create(name=SCHEDULER, defaults={"beat_at": at})
    return at


def hide_setup_list(*, user: User) -> None:
    SetupListHidden.objects.update_or_create(pk=1, defaults={"hidden_by": user, "hidden_at": timezone.now()})
    record_audit(action="brief.setup_list.hide", user=user, summary="Hid the setup list on the home page")


def show_setup_list(*, user: User) -> None:
    SetupListHidden.objects.all().delete()
    record_audit(action="brief.setup_list.show", user=user, summary="Showed the setup list again")
