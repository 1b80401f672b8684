"""Reads shared by the people views, API and tasks; scoping by role lives here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q, QuerySet

from heedful.accounts.models import User
from heedful.accounts.roles import Perm, Role
from heedful.people import leave_math
from heedful.people.models import (
    Employee,
    FeedKey,
    LeaveAdjustment,
    LeaveRequest,
    LeaveStatus,
    LeaveType,
    PublicHoliday,
    Team,
)

# Requests that hold days: pending ones reserve them until decided.
BOOKED = (LeaveStatus.PENDING, LeaveStatus.APPROVED)


def employee_of(user: User) -> Employee | None:
    return Employee.objects.select_related("team").filter(user=user).first()


def managed_team_ids(user: User) -> set[int]:
    """Teams the user manages, with their sub-teams (a manager sees the whole branch)."""
    own = set(Team.objects.filter(manager__user=user).values_list("pk", flat=True))
    frontier = set(own)
    while frontier:
        frontier = set(Team.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - own
        own |= frontier
    return own


def sees_all_people(user: User) -> bool:
    """HR and the owner see every team; a manager only their own (roles.py grants VIEW_PEOPLE)."""
    return user.can(Perm.MANAGE_PEOPLE)


def visible_employees(user: User) -> QuerySet[Employee]:
    """Whose HR records (leave, onboarding) the user may read: all, their teams, or only their own."""
    employees = Employee.objects.select_related("team", "user")
    if sees_all_people(user):
        return employees
    if user.can(Perm.VIEW_PEOPLE):
        return employees.filter(Q(team_id__in=managed_team_ids(user)) | Q(user=user))
    return employees.filter(user=user)


def holidays_for(region: str, start: date, end: date) -> set[date]:
    return set(
        PublicHoliday.objects.filter(region=region, date__range=(start, end)).values_list("date", flat=True)
    )


def policy_of(leave_type: LeaveType) -> leave_math.Policy:
    # Decimal(str(...)): a type created in code with ``accrual_days=2`` holds an int until reloaded.
    cap = leave_type.carry_over_cap
    return leave_math.Policy(
        accrual_days=Decimal(str(leave_type.accrual_days)),
        accrual_period=leave_type.accrual_period,
        carry_over_cap=None if cap is None else Decimal(str(cap)),
        allow_negative=leave_type.allow_negative,
    )


def bookings_of(employee: Employee, leave_type: LeaveType) -> list[leave_math.Booking]:
    requests = LeaveRequest.objects.filter(employee=employee, leave_type=leave_type, status__in=BOOKED)
    adjustments = LeaveAdjustment.objects.filter(employee=employee, leave_type=leave_type)
    return [part for r in requests for part in r.year_parts()] + [
        # An adjustment of +2 grants two days, i.e. it is a booking of −2.
        leave_math.Booking(on=a.effective_date, days=-a.days)
        for a in adjustments
    ]


@dataclass(frozen=True)
class BalanceRow:
    leave_type: LeaveType
    balance: leave_math.Balance
    pending: Decimal


def balances_of(employee: Employee, as_of: date) -> list[BalanceRow]:
    rows = []
    for leave_type in LeaveType.objects.filter(is_active=True):
        balance = leave_math.balance_on(
            policy_of(leave_type), employee.start_date, as_of, bookings_of(employee, leave_type)
        )
        waiting = LeaveRequest.objects.filter(
            employee=employee,
            leave_type=leave_type,
            status=LeaveStatus.PENDING,
            start_date__year__lte=as_of.year,
            end_date__year__gte=as_of.year,
        )
        pending = sum(
            (part.days for r in waiting for part in r.year_parts() if part.on.year == as_of.year), Decimal(0)
        )
        rows.append(BalanceRow(leave_type=leave_type, balance=balance, pending=pending))
    return rows


def overlapping_absences(employee: Employee, start: date, end: date) -> QuerySet[LeaveRequest]:
    """Teammates already away (or asking to be) in the same days: the team-overlap warning."""
    if employee.team_id is None:
        return LeaveRequest.objects.none()
    return (
        LeaveRequest.objects.filter(
            employee__team_id=employee.team_id,
            status__in=BOOKED,
            start_date__lte=end,
            end_date__gte=start,
        )
        .exclude(employee=employee)
        .select_related("employee")
    )


@dataclass(frozen=True)
class Fallbacks:
    """Who decides when no manager can: HR, else the owners (active accounts, by pk)."""

    hr: list[User]
    owners: list[User]

    @classmethod
    def read(cls) -> Fallbacks:
        users = list(User.objects.filter(is_active=True, role__in=[Role.HR, Role.OWNER]).order_by("pk"))
        return cls([u for u in users if u.role == Role.HR], [u for u in users if u.role == Role.OWNER])


def approvers_for(request: LeaveRequest, step_kind: str, *, fallbacks: Fallbacks | None = None) -> list[User]:
    """Who decides this level. Nobody approves their own leave.

    The manager level goes to the manager of the requester's team, or up the team tree when
    that is the requester or has no account; HR when nobody is left. HR falls back to owners.
    ``fallbacks`` lets a caller deciding many requests read HR and the owners once.
    """
    me = request.employee
    if step_kind == "manager":
        team = me.team
        while team is not None:
            boss = team.manager
            if boss is not None and boss.pk != me.pk and boss.user is not None and boss.user.is_active:
                return [boss.user]
            team = team.parent
    known = fallbacks or Fallbacks.read()
    hr = [u for u in known.hr if u.pk != me.user_id]
    return hr or [u for u in known.owners if u.pk != me.user_id]


def may_decide(user: User, request: LeaveRequest, *, fallbacks: Fallbacks | None = None) -> bool:
    if request.status != LeaveStatus.PENDING or request.employee.user_id == user.pk:
        return False
    return user.role == Role.OWNER or user in approvers_for(request, request.step_kind, fallbacks=fallbacks)


def awaiting_decision_by(user: User) -> list[LeaveRequest]:
    pending = LeaveRequest.objects.filter(status=LeaveStatus.PENDING).select_related(
        "employee__team__manager__user", "employee__team__parent__manager__user", "leave_type"
    )
    fallbacks = Fallbacks.read()
    return [r for r in pending if may_decide(user, r, fallbacks=fallbacks)]


def absences_between(employees: Iterable[Employee], start: date, end: date) -> QuerySet[LeaveRequest]:
    return (
        LeaveRequest.objects.filter(
            employee__in=list(employees), status__in=BOOKED, start_date__lte=end, end_date__gte=start
        )
        .select_related("employee", "leave_type")
        .order_by("start_date", "employee__first_name")
    )


def feed_key_of(user: User) -> str:
    return FeedKey.objects.filter(user=user).values_list("key", flat=True).first() or ""
