"""Context builders for the people pages: the reads behind each page, scoped by role."""

from __future__ import annotations

import calendar as pycalendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Q

from heedful.accounts.models import User
from heedful.accounts.roles import Perm
from heedful.governance.models import AuditEvent
from heedful.people import queries
from heedful.people.forms import LeaveRequestForm
from heedful.people.ical import Event
from heedful.people.models import (
    Employee,
    LeaveRequest,
    LeaveStatus,
    LeaveType,
    Onboarding,
    OnboardingTask,
    OnboardingTemplate,
    PublicHoliday,
    TaskOwner,
)


def balance_year(value: str | None, today: date) -> int:
    """The leave year whose balance the page shows: this year unless last or next is asked for
    (in December people book January, and want to see what is left of next year)."""
    try:
        year = int(value or today.year)
    except ValueError:
        return today.year
    return year if today.year - 1 <= year <= today.year + 1 else today.year


def my_leave(
    employee: Employee, form: LeaveRequestForm, today: date, year: int | None = None
) -> dict[str, Any]:
    year = year or today.year
    # A past year is seen as it ended; a future one as it starts (monthly accrual has one month in).
    as_of = today if year == today.year else date(year, 12, 31) if year < today.year else date(year, 1, 1)
    return {
        "employee": employee,
        "form": form,
        "year": year,
        "years": [today.year - 1, today.year, today.year + 1],
        "balances": queries.balances_of(employee, as_of),
        "requests": employee.leave_requests.select_related("leave_type")[:50],
    }


def leave_detail(user: User, leave: LeaveRequest) -> dict[str, Any]:
    return {
        "leave": leave,
        "decisions": leave.decisions.select_related("decided_by"),
        "overlaps": queries.overlapping_absences(leave.employee, leave.start_date, leave.end_date),
        "can_decide": queries.may_decide(user, leave),
        "can_cancel": leave.status in queries.BOOKED
        and (leave.employee.user_id == user.pk or user.can(Perm.MANAGE_PEOPLE)),
        "steps": list(leave.leave_type.approval_steps),
        "year_parts": leave.year_parts(),
    }


LEAVE_PAGE_SIZE = 50


def leave_overview(
    user: User, *, status: str = "", who: str = "", year: str = "", page: str | None = None
) -> dict[str, Any]:
    """What waits for the user's decision, and one page of the requests in their teams.

    The requests can be narrowed to a status, a person (words of the name) and the year the
    leave starts in, newest first.
    """
    visible = queries.visible_employees(user)
    requests = LeaveRequest.objects.filter(employee__in=visible)
    if status in LeaveStatus.values:
        requests = requests.filter(status=status)
    for word in who.split()[:5]:
        requests = requests.filter(
            Q(employee__first_name__icontains=word) | Q(employee__last_name__icontains=word)
        )
    if year.isdigit() and len(year) == 4:
        requests = requests.filter(start_date__year=int(year))
    years = sorted(
        {d.year for d in LeaveRequest.objects.filter(employee__in=visible).dates("start_date", "year")},
        reverse=True,
    )
    shown = Paginator(
        requests.select_related("employee", "leave_type").order_by("-start_date", "-id"), LEAVE_PAGE_SIZE
    ).get_page(page)
    return {
        "awaiting": queries.awaiting_decision_by(user),
        "requests": shown.object_list,
        "page": shown,
        "filters": {"status": status, "who": who, "year": year},
        "statuses": LeaveStatus.choices,
        "years": years,
    }


def parse_month(value: str | None, today: date) -> date:
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


def _calendar_people(user: User) -> tuple[list[Employee], bool]:
    """People on the user's calendar, and whether the leave type may be shown.

    HR and managers see their scope with types; an employee sees when teammates are away
    but not why (a sick day is nobody else's business).
    """
    if user.can(Perm.VIEW_PEOPLE):
        return list(queries.visible_employees(user)), True
    me = queries.employee_of(user)
    if me is None:
        return [], False
    if me.team_id is None:
        return [me], False
    return list(Employee.objects.filter(team_id=me.team_id, is_active=True)), False


def calendar(user: User, month: date) -> dict[str, Any]:
    people, show_type = _calendar_people(user)
    last = month.replace(day=pycalendar.monthrange(month.year, month.month)[1])
    absences = list(queries.absences_between(people, month, last))
    weeks = []
    for week in pycalendar.Calendar().monthdatescalendar(month.year, month.month):
        weeks.append(
            [
                {
                    "day": day,
                    "in_month": day.month == month.month,
                    "away": [a for a in absences if a.start_date <= day <= a.end_date],
                }
                for day in week
            ]
        )
    previous = (month - timedelta(days=1)).replace(day=1)
    following = (last + timedelta(days=1)).replace(day=1)
    return {
        "month": month,
        "absences": absences,
        "weeks": weeks,
        "show_type": show_type,
        "previous": f"{previous:%Y-%m}",
        "next": f"{following:%Y-%m}",
    }


@dataclass(frozen=True)
class Feed:
    events: list[Event]
    employee_ids: list[int]
    show_type: bool  # reasons shown: an HR read, audited like the calendar page


def calendar_feed(user: User, start: date, end: date) -> Feed:
    people, show_type = _calendar_people(user)
    absences = list(queries.absences_between(people, start, end))
    events = [
        Event(
            uid=f"leave-{a.pk}@heedful",
            start=a.start_date,
            end=a.end_date,
            summary=f"{a.employee}: {a.leave_type if show_type else 'away'}"
            + ("" if a.status == LeaveStatus.APPROVED else " (not yet approved)"),
        )
        for a in absences
    ]
    return Feed(events, [a.employee_id for a in absences], show_type)


def _with_progress(onboardings: Any) -> Any:
    return onboardings.annotate(
        total=Count("tasks"), done=Count("tasks", filter=Q(tasks__done_at__isnull=False))
    ).select_related("employee", "template")


def onboarding_overview(user: User) -> dict[str, Any]:
    visible = queries.visible_employees(user)
    return {"onboardings": _with_progress(Onboarding.objects.filter(employee__in=visible))}


def may_tick(user: User, task: OnboardingTask) -> bool:
    """The assignee ticks a task; HR may tick any; the new hire ticks their own tasks."""
    if task.assignee_id == user.pk or user.can(Perm.MANAGE_PEOPLE):
        return True
    return task.owner == TaskOwner.NEW_HIRE and task.onboarding.employee.user_id == user.pk


def onboarding_detail(user: User, onboarding: Onboarding) -> dict[str, Any]:
    tasks = list(onboarding.tasks.select_related("assignee", "onboarding__employee"))
    rows = [{"task": t, "can_tick": may_tick(user, t)} for t in tasks]
    done = sum(1 for t in tasks if t.done_at)
    return {
        "onboarding": onboarding,
        "rows": rows,
        "done": done,
        "total": len(tasks),
        "percent": round(100 * done / len(tasks)) if tasks else 100,
    }


def employee_record(employee: Employee) -> dict[str, Any]:
    from django.utils import timezone

    return {
        "employee": employee,
        "balances": queries.balances_of(employee, timezone.localdate()),
        "requests": employee.leave_requests.select_related("leave_type")[:50],
        "adjustments": employee.leave_adjustments.select_related("leave_type"),
        "onboardings": _with_progress(employee.onboardings.all()),
    }


def about_me(user: User, employee: Employee) -> dict[str, Any]:
    """What heedful stores about a person, each part with why it is kept (C24)."""
    from heedful.surveys.queries import participation_of

    context = employee_record(employee)
    context.update(
        {
            "user_record": user,
            "surveys_answered": participation_of(employee),
            "audit": _audit_about(employee),
            **_automation_about(employee),
        }
    )
    return context


def _automation_about(employee: Employee, limit: int = 50) -> dict[str, Any]:
    """What automations were told about this person (hired, asked for leave …) and the runs that
    followed: workflow events copy parts of the record, so they are held about them too.

    Read from the workflow models directly, like the audit log above: a read-only look at
    rows keyed by subject, with nothing for the workflows app to decide.
    """
    from heedful.workflows.models import Event, WorkflowRun

    about = {"subject_type": "employee", "subject_id": str(employee.pk)}
    events = Event.objects.filter(**about).order_by("-occurred_at", "-pk")[:limit]
    return {
        "events": [(e.occurred_at, e.name, "; ".join(_flat(e.payload))) for e in events],
        "runs": list(
            WorkflowRun.objects.filter(**about)
            .select_related("workflow")
            .order_by("-started_at", "-pk")[:limit]
        ),
    }


def _audit_about(employee: Employee, limit: int = 100) -> list[AuditEvent]:
    """Reads and changes of this person's records by others: they may know who looked.

    Single records name the employee or request; a list read names everyone it showed in its
    changes (``{"employees": [...]}``), which is matched here in Python: JSON containment is not
    portable to SQLite, and a small business's recent list reads are few.
    """
    direct = list(
        AuditEvent.objects.filter(
            Q(object_type="employee", object_id=str(employee.pk))
            | Q(
                object_type="leaverequest",
                object_id__in=[str(pk) for pk in employee.leave_requests.values_list("pk", flat=True)],
            )
        ).order_by("-pk")[:limit]
    )
    lists = [
        event
        for event in AuditEvent.objects.filter(
            action="people.read", object_type="employee", object_id=""
        ).order_by("-pk")[: limit * 5]
        if employee.pk in (event.changes or {}).get("employees", [])
    ]
    return sorted(direct + lists, key=lambda event: event.pk, reverse=True)[:limit]


def onboarding_templates() -> dict[str, Any]:
    templates = OnboardingTemplate.objects.select_related("team").annotate(task_count=Count("tasks"))
    return {"templates": templates}


def leave_settings() -> dict[str, Any]:
    return {"leave_types": LeaveType.objects.all()}


def holidays(year: int, today: date) -> dict[str, Any]:
    """The year's public holidays by region, and how many active employees each region has
    (a region nobody is in is probably a typo)."""
    by_region: dict[str, list[PublicHoliday]] = {}
    for holiday in PublicHoliday.objects.filter(date__year=year).order_by("region", "date"):
        by_region.setdefault(holiday.region, []).append(holiday)
    staffed = dict(
        Employee.objects.filter(is_active=True)
        .values_list("region")
        .annotate(n=Count("pk"))
        .values_list("region", "n")
    )
    return {
        "year": year,
        "years": [today.year - 1, today.year, today.year + 1],
        "regions": [(region, staffed.get(region, 0), days) for region, days in by_region.items()],
        "unlisted": sorted(r for r in staffed if r and r not in by_region),
    }


def _flat(value: Any, prefix: str = "") -> list[str]:
    """{"leave": {"days": 2}} → ["leave.days: 2"], for reading an event's payload on a page.
    Sorted by key: PostgreSQL's jsonb does not keep the order the payload was written in."""
    if isinstance(value, dict):
        return [line for key, item in sorted(value.items()) for line in _flat(item, f"{prefix}{key}.")]
    return [f"{prefix.rstrip('.')}: {value}"]
