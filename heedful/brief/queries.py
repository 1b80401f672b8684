from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from heedful.accounts.models import User
from heedful.accounts.roles import Perm
from heedful.governance.models import DecisionRecord, ProposalStatus, ProposedAction


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
