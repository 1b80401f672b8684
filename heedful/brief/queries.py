from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from heedful.accounts.models import User
from heedful.accounts.roles import Perm
from heedful.governance.models import DecisionRecord, ProposalStatus, ProposedAction
from heedful.surveys.queries import Flag, all_early_flags

# Beat sends the heartbeat every minute: five missed in a row is not a slow minute.
STALE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class BackgroundHealth:
    last_run: datetime | None  # when the heartbeat task last ran, None if never
    stale: bool
    minutes_since: int | None = None  # whole minutes from last_run to the time asked about


def background_health(now: datetime | None = None) -> BackgroundHealth:
    """Whether the scheduler and a worker ran the minute's heartbeat lately.

    Right after installation nothing has run yet, so "never" only counts as stale once the
    first account is older than :data:`STALE_AFTER`.
    """
    from heedful.brief.models import Heartbeat
    from heedful.brief.services import SCHEDULER

    now = now or timezone.now()
    beat = Heartbeat.objects.filter(name=SCHEDULER).values_list("beat_at", flat=True).first()
    if beat is not None:
        return BackgroundHealth(beat, now - beat > STALE_AFTER, int((now - beat).total_seconds() // 60))
    first_joined = User.objects.order_by("date_joined").values_list("date_joined", flat=True).first()
    return BackgroundHealth(None, first_joined is not None and now - first_joined > STALE_AFTER)


@dataclass(frozen=True)
class HomeCounts:
    pending_approvals: int | None
    decisions_today: int | None
    contacts: int | None


def home_counts(user: User) -> HomeCounts:
    """What the home page shows; each figure only to a role allowed to see it."""
    from heedful.crm.models import Contact

    since = timezone.now() - timedelta(days=1)
    return HomeCounts(
        pending_approvals=ProposedAction.objects.filter(status=ProposalStatus.PENDING).count()
        if user.can(Perm.DECIDE_APPROVALS)
        else None,
        decisions_today=DecisionRecord.objects.filter(created_at__gte=since).count()
        if user.can(Perm.VIEW_DECISIONS)
        else None,
        contacts=Contact.objects.count() if user.can(Perm.VIEW_CONTACTS) else None,
    )


def survey_flags(user: User, today: date) -> list[Flag] | None:
    """Survey groups (teams, tenure bands, the company) whose mood dropped, for the people who
    look after teams (None: not for this role).

    The flags come from the same results as the survey pages, so they name only groups shown
    there: at least k people, not withheld to protect others, in both rounds compared.
    """
    if not (user.can(Perm.VIEW_PEOPLE) or user.can(Perm.MANAGE_SURVEYS)):
        return None
    return all_early_flags(today)
