"""Writes for the leave configuration HR keeps: leave types with their policies, public holidays.

Like every HR change, each save and delete is audited with old → new values. A policy is not
versioned: balances are computed from the current policy, so a new entitlement or carry-over
cap applies to every balance at once (the settings page says so). Requests keep the days they
were counted with, so adding or removing a holiday does not rewrite them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction

from heedful.accounts.models import User
from heedful.accounts.roles import Perm
from heedful.governance.services import record_audit
from heedful.people.models import LeaveType, PublicHoliday

# What HR sets on a leave type: the fields the settings page and the admin edit, and the ones
# an audit entry compares.
LEAVE_TYPE_FIELDS = [
    "name",
    "accrual_days",
    "accrual_period",
    "carry_over_cap",
    "allow_negative",
    "approval_steps",
    "is_active",
]


class ConfigError(Exception):
    """Not allowed; the message is shown as it is."""


def _check(user: User) -> None:
    if not user.can(Perm.MANAGE_PEOPLE):
        raise ConfigError("Only HR and the owner can change the leave settings.")


def _plain(value: Any) -> Any:
    """A value as the audit log's JSON keeps it: 25, not Decimal('25.00'); lists as they are."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return value


@transaction.atomic
def save_leave_type(*, user: User, leave_type: LeaveType | None, values: Mapping[str, Any]) -> LeaveType:
    """Create a leave type (``leave_type`` None) or change one; ``values`` are validated form data."""
    _check(user)
    if leave_type is None:
        row = LeaveType.objects.create(**{f: values[f] for f in LEAVE_TYPE_FIELDS if f in values})
        changes = {f: [None, _plain(getattr(row, f))] for f in LEAVE_TYPE_FIELDS}
        verb, action = "created", "people.leavetype.create"
    else:
        row = LeaveType.objects.select_for_update().get(pk=leave_type.pk)
        before = {f: _plain(getattr(row, f)) for f in LEAVE_TYPE_FIELDS}
        for name in LEAVE_TYPE_FIELDS:
            if name in values:
                setattr(row, name, values[name])
        changed = [f for f in LEAVE_TYPE_FIELDS if _plain(getattr(row, f)) != before[f]]
        if not changed:
            return row
        row.save(update_fields=changed)
        changes = {f: [before[f], _plain(getattr(row, f))] for f in changed}
        verb, action = "changed", "people.leavetype.change"
    record_audit(
        action=action,
        user=user,
        obj=row,
        summary=f"leave type “{row}” {verb} on the leave settings page",
        changes=changes,
    )
    return row


@transaction.atomic
def add_public_holiday(*, user: User, values: Mapping[str, Any]) -> PublicHoliday:
    _check(user)
    holiday = PublicHoliday.objects.create(region=values["region"], date=values["date"], name=values["name"])
    record_audit(
        action="people.publicholiday.create",
        user=user,
        obj=holiday,
        summary=f"public holiday “{holiday}” added on the leave settings page",
        changes={"region": [None, holiday.region], "date": [None, holiday.date.isoformat()]},
    )
    return holiday


@transaction.atomic
def remove_public_holiday(*, user: User, holiday: PublicHoliday) -> None:
    _check(user)
    record_audit(
        action="people.publicholiday.delete",
        user=user,
        obj=holiday,
        summary=f"public holiday “{holiday}” removed on the leave settings page",
        changes={"region": [holiday.region, None], "date": [holiday.date.isoformat(), None]},
    )
    holiday.delete()
