"""Writes for people: leave requests and decisions, balance adjustments, onboarding.

Each service is atomic, audits what it changes and sends email on commit through a task.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from heedful.accounts.models import User
from heedful.accounts.roles import Perm
from heedful.governance.services import Subject, record_audit
from heedful.people import leave_math, queries
from heedful.people.links import DecisionLink, LinkError, read_decision_token
from heedful.people.models import (
    Employee,
    FeedKey,
    LeaveAdjustment,
    LeaveDecision,
    LeaveRequest,
    LeaveStatus,
    LeaveType,
    Onboarding,
    OnboardingTask,
    OnboardingTemplate,
    TaskOwner,
    Team,
)
from heedful.workflows.events import emit_event

# Someone added up to this many days after their first day still gets ``employee.hired``: HR
# often records a hire late, and onboarding checklists run for about a month.
HIRED_WITHIN_DAYS = 30


class LeaveError(Exception):
    """A leave change that is not allowed; the message is shown to the person as it is."""


class OnboardingError(Exception):
    """An onboarding change that is not possible; the message is shown as it is."""


class PeopleError(Exception):
    """An employee change that is not allowed; the message is shown as it is."""


@transaction.atomic
def hire_employee(
    *,
    first_name: str,
    email: str,
    start_date: date,
    last_name: str = "",
    job_title: str = "",
    team: Team | None = None,
    region: str = "",
    user: User | None = None,
    automation: str = "",
    today: date | None = None,
) -> Employee:
    """Add an employee with a start date; workflows hear ``employee.hired`` (e.g. to welcome them)
    unless the person started more than ``HIRED_WITHIN_DAYS`` before ``today``: adding staff who
    have worked here for years, as everyone does when setting heedful up, is not a hire, and
    the onboarding workflow would welcome them."""
    if user is not None and not user.can(Perm.MANAGE_PEOPLE):
        raise PeopleError("Only HR can add employees.")
    email = email.strip().lower()
    if Employee.objects.filter(email__iexact=email).exists():
        raise PeopleError(f"{email} already belongs to an employee.")
    employee = Employee.objects.create(
        # Someone who already has an account (a manager hired into HR records later, say).
        user=User.objects.filter(email__iexact=email, employee__isnull=True).first(),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email,
        job_title=job_title.strip(),
        team=team,
        start_date=start_date,
        region=region,
    )
    record_audit(
        action="people.hire",
        user=user,
        automation="" if user else (automation or "people"),
        obj=employee,
        summary=f"{employee} joins {team or 'no team'} on {start_date}",
        changes={"start_date": [None, start_date.isoformat()], "team": [None, str(team or "")]},
    )
    if start_date < (today or timezone.localdate()) - timedelta(days=HIRED_WITHIN_DAYS):
        return employee
    emit_event(
        "employee.hired",
        {
            "employee": {
                "id": employee.pk,
                "email": employee.email,
                "first_name": employee.first_name,
                "job_title": employee.job_title,
                "team": team.name if team else "",
                "start_date": start_date.isoformat(),
            }
        },
        Subject.of(employee, "employee"),
        source=automation or "people",
    )
    return employee


@transaction.atomic
def link_account(user: User) -> Employee | None:
    """Tie a signed-in account to the employee record with the same work email, once.

    Accounts exist only by the owner's invitation to that address (accepted from its mailbox),
    so the address is the person's; without the link they would see no leave and no surveys.
    """
    linked = Employee.objects.filter(user=user).first()
    if linked is not None or not user.email:
        return linked
    employee = (
        Employee.objects.select_for_update()
        .filter(user__isnull=True, is_active=True, email__iexact=user.email)
        .first()
    )
    if employee is None:
        return None
    employee.user = user
    employee.save(update_fields=["user"])
    record_audit(
        action="people.link_account",
        automation="people",
        obj=employee,
        summary=f"{user.email} signed in: linked to the employee record with that work email",
        changes={"user": [None, user.email]},
    )
    return employee


def _days(value: Decimal) -> str:
    return f"{value.normalize():f}"  # 2.5, not 2.50; 3, not 3.00 or 3E+0


def _new_nonce() -> str:
    return secrets.token_hex(8)


def _notify(request_id: int, event: str) -> None:
    from heedful.people.tasks import notify_leave_task

    transaction.on_commit(lambda: notify_leave_task.delay(request_id, event))


@transaction.atomic
def request_leave(
    *,
    employee: Employee,
    leave_type: LeaveType,
    start_date: date,
    end_date: date,
    start_half: bool = False,
    end_half: bool = False,
    note: str = "",
    user: User,
) -> LeaveRequest:
    """Ask for leave. Days are counted against the employee's region's holidays and the balance
    is checked under a lock on the employee, so two requests at once cannot both spend the last day.
    """
    if end_date < start_date:
        raise LeaveError("The last day is before the first day.")
    if not leave_type.is_active:
        raise LeaveError(f"{leave_type} can no longer be requested.")
    employee = Employee.objects.select_for_update().get(pk=employee.pk)
    holidays = queries.holidays_for(employee.region, start_date, end_date)
    # Over New Year each year's working days (and holidays) are spent from that year's balance.
    parts = leave_math.split_by_year(
        start_date, end_date, holidays=holidays, start_half=start_half, end_half=end_half
    )
    days = sum((part.days for part in parts), Decimal(0))
    if days <= 0:
        raise LeaveError("Those days are all weekends or public holidays: nothing to request.")
    clash = LeaveRequest.objects.filter(
        employee=employee, status__in=queries.BOOKED, start_date__lte=end_date, end_date__gte=start_date
    ).first()
    if clash is not None:
        raise LeaveError(f"You already have leave from {clash.start_date} to {clash.end_date}.")
    policy = queries.policy_of(leave_type)
    booked = queries.bookings_of(employee, leave_type)
    for i, part in enumerate(parts):
        # The old year's part is counted first: it lowers what carries over into the new one.
        balance = leave_math.balance_on(policy, employee.start_date, part.on, [*booked, *parts[:i]])
        if not leave_math.can_take(policy, balance, part.days):
            needs = f"{_days(part.days)} days" + (f" in {part.on.year}" if len(parts) > 1 else "")
            raise LeaveError(
                f"This needs {needs} but only {_days(balance.available)} are left for {part.on.year}."
            )
    _check_later_years(policy, employee, booked, parts)
    request = LeaveRequest.objects.create(
        employee=employee,
        leave_type=leave_type,
        start_date=start_date,
        end_date=end_date,
        start_half=start_half,
        end_half=end_half,
        days=days,
        days_by_year={str(part.on.year): _days(part.days) for part in parts},
        note=note,
        decision_nonce=_new_nonce(),
    )
    record_audit(
        action="leave.request",
        user=user,
        obj=request,
        summary=f"{employee} asked for {days} days of {leave_type} ({start_date} – {end_date})",
        changes={"status": [None, LeaveStatus.PENDING], "days": [None, str(days)]},
    )
    _emit_leave_requested(request)
    if not leave_type.approval_steps:
        _finish(request, LeaveStatus.APPROVED)
        _notify(request.pk, "approved")
    else:
        _notify(request.pk, "decide")
    return request


def _check_later_years(
    policy: leave_math.Policy,
    employee: Employee,
    booked: list[leave_math.Booking],
    parts: list[leave_math.Booking],
) -> None:
    """Days taken now lower what carries over, so leave already booked in a later year may no
    longer fit; refuse rather than leave that year short (judged at its end, all accrued)."""
    if policy.allow_negative:
        return
    later = sorted({b.on.year for b in booked if b.on.year > parts[-1].on.year})
    for year in later:
        before = leave_math.balance_on(policy, employee.start_date, date(year, 12, 31), booked)
        after = leave_math.balance_on(policy, employee.start_date, date(year, 12, 31), [*booked, *parts])
        if after.available < 0 <= before.available:
            raise LeaveError(
                f"This would leave {year} short by {_days(-after.available)} days: less would carry over "
                f"into it than the leave already booked there needs."
            )


def _emit_leave_requested(request: LeaveRequest) -> None:
    """The workflow event: enough to route or remind, nothing about why (the note stays here)."""
    approvers = queries.approvers_for(request, request.step_kind) if request.leave_type.approval_steps else []
    employee = request.employee
    emit_event(
        "leave.requested",
        {
            "employee": {"id": employee.pk, "first_name": employee.first_name},
            "leave": {
                "id": request.pk,
                "type": request.leave_type.name,
                "days": float(request.days),
                "start_date": request.start_date.isoformat(),
                "end_date": request.end_date.isoformat(),
                "approval_levels": len(request.leave_type.approval_steps),
                "approver_email": approvers[0].email if approvers else "",
            },
        },
        Subject.of(employee, "employee"),
        source="people",
    )


def _finish(request: LeaveRequest, status: str) -> None:
    request.status = status
    request.decided_at = timezone.now()
    request.decision_nonce = _new_nonce()
    request.save(update_fields=["status", "decided_at", "decision_nonce"])


def _check_still_open(request: LeaveRequest, nonce: str | None) -> None:
    if request.status != LeaveStatus.PENDING:
        raise LeaveError(f"This request is already {request.get_status_display()}.")
    if nonce is not None and nonce != request.decision_nonce:
        raise LeaveError("This link has already been used, or the request has moved on since it was sent.")


def check_decision_link(request: LeaveRequest, link: DecisionLink) -> None:
    """Raise ``LeaveError`` in words if this emailed link can no longer decide (read only)."""
    _check_still_open(request, link.nonce)


@transaction.atomic
def decide_leave(
    *,
    request: LeaveRequest,
    user: User,
    approve: bool,
    comment: str = "",
    via: str = "ui",
    nonce: str | None = None,
) -> LeaveRequest:
    """Record one approval level's answer. Approving the last level approves the request;
    rejecting at any level rejects it. ``nonce`` is given by emailed links (one use each)."""
    request = (
        LeaveRequest.objects.select_for_update(of=("self",))
        .select_related("employee__team__manager__user", "leave_type")
        .get(pk=request.pk)
    )
    _check_still_open(request, nonce)
    if not queries.may_decide(user, request):
        raise LeaveError("You are not the approver for this step.")
    step, kind = request.current_step, request.step_kind
    LeaveDecision.objects.create(
        request=request,
        step=step,
        step_kind=kind,
        approved=approve,
        decided_by=user,
        via=via,
        comment=comment,
    )
    before = request.status
    if not approve:
        _finish(request, LeaveStatus.REJECTED)
        event = "rejected"
    elif step + 1 >= len(request.leave_type.approval_steps):
        request.current_step = step + 1
        request.save(update_fields=["current_step"])
        _finish(request, LeaveStatus.APPROVED)
        event = "approved"
    else:
        request.current_step = step + 1
        request.decision_nonce = _new_nonce()
        request.save(update_fields=["current_step", "decision_nonce"])
        event = "decide"
    record_audit(
        action="leave.approve" if approve else "leave.reject",
        user=user,
        obj=request,
        summary=f"Level {step + 1} ({kind}) {'approved' if approve else 'rejected'} via {via}"
        + (f": {comment}" if comment else ""),
        changes={"status": [before, request.status], "step": [step, request.current_step]},
    )
    _notify(request.pk, event)
    return request


def decide_leave_by_link(token: str, *, comment: str = "") -> LeaveRequest:
    """Decide through an emailed link; the link names the approver, so no sign-in is needed."""
    link = read_decision_token(token)
    user = User.objects.filter(pk=link.approver_id, is_active=True).first()
    request = LeaveRequest.objects.filter(pk=link.request_id).first()
    if user is None or request is None:
        raise LinkError("This link no longer applies.")
    return decide_leave(
        request=request, user=user, approve=link.approve, comment=comment, via="email", nonce=link.nonce
    )


@transaction.atomic
def cancel_leave(*, request: LeaveRequest, user: User, today: date | None = None) -> LeaveRequest:
    """Cancel a pending or approved request; its days return to the balance.

    The employee may cancel until the leave starts; HR may cancel at any time (a sick day
    during holidays, say).
    """
    request = (
        LeaveRequest.objects.select_for_update(of=("self",)).select_related("employee").get(pk=request.pk)
    )
    today = today or timezone.localdate()
    is_hr = user.can(Perm.MANAGE_PEOPLE)
    if request.employee.user_id != user.pk and not is_hr:
        raise LeaveError("Only the employee or HR can cancel this leave.")
    if request.status not in queries.BOOKED:
        raise LeaveError(f"This request is already {request.get_status_display()}.")
    if request.start_date <= today and not is_hr:
        raise LeaveError("This leave has started; please ask HR to change it.")
    before = request.status
    _finish(request, LeaveStatus.CANCELLED)
    record_audit(
        action="leave.cancel",
        user=user,
        obj=request,
        summary=f"Cancelled; {request.days} days returned to the balance",
        changes={"status": [before, LeaveStatus.CANCELLED]},
    )
    _notify(request.pk, "cancelled")
    return request


@transaction.atomic
def adjust_balance(
    *, employee: Employee, leave_type: LeaveType, days: Decimal, effective_date: date, reason: str, user: User
) -> LeaveAdjustment:
    if not user.can(Perm.MANAGE_PEOPLE):
        raise LeaveError("Only HR can adjust balances.")
    adjustment = LeaveAdjustment.objects.create(
        employee=employee,
        leave_type=leave_type,
        days=days,
        effective_date=effective_date,
        reason=reason,
        created_by=user,
    )
    record_audit(
        action="leave.adjust",
        user=user,
        obj=employee,
        summary=f"{leave_type} balance {days:+} days: {reason}",
        changes={"days": [None, str(days)], "effective_date": [None, str(effective_date)]},
    )
    return adjustment


@transaction.atomic
def audit_hr_read(*, user: User, employee: Employee, what: str) -> None:
    """Every read of someone else's HR record leaves a trace (promise 4; the issue's access rule)."""
    if employee.user_id == user.pk:
        return
    record_audit(action="people.read", user=user, obj=employee, summary=f"Viewed {what} of {employee}")


@transaction.atomic
def audit_hr_list_read(
    *,
    user: User,
    what: str,
    employee_ids: Iterable[int],
    verb: str = "Viewed",
    also: Mapping[str, str] | None = None,
) -> None:
    """A list of other people's leave read at once: one audit row naming whose records it showed
    (one row per list, not per person, so the log stays readable)."""
    own = Employee.objects.filter(user=user).values_list("pk", flat=True).first()
    others = sorted({pk for pk in employee_ids if pk != own})
    if not others:
        return
    record_audit(
        action="people.read",
        user=user,
        object_type="employee",
        summary=f"{verb} {what} ({len(others)} {'person' if len(others) == 1 else 'people'})",
        changes={"employees": others, **(also or {})},
    )


def audit_link_read(*, link: DecisionLink, leave: LeaveRequest) -> None:
    """Opening an emailed decision link shows the request: a read by the approver it was sent to
    (or by whoever has their mail; a mail scanner's visit shows up here too)."""
    approver = User.objects.filter(pk=link.approver_id).first()
    if approver is not None:
        record_audit(
            action="people.read",
            user=approver,
            obj=leave.employee,
            summary=f"Opened the emailed decision link for leave request #{leave.pk} of {leave.employee}",
        )


@transaction.atomic
def new_feed_address(*, user: User) -> str:
    """Retire the user's leave feed address and return the key of the new one."""
    key = secrets.token_hex(16)
    FeedKey.objects.update_or_create(user=user, defaults={"key": key})
    record_audit(
        action="people.feed_address_renewed",
        user=user,
        object_type="user",
        object_id=str(user.pk),
        object_repr=user.email,
        summary="Asked for a new leave feed address; the old one no longer works",
    )
    return key


def feed_fingerprint(token: str) -> str:
    """Names a feed address in the audit log without writing down the address (which is a key)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def audit_feed_read(*, user: User, token: str, employee_ids: Iterable[int], client: str = "") -> None:
    """One row per fetch of someone's private iCal feed: whose feed, which address, which app."""
    audit_hr_list_read(
        user=user,
        what="the leave calendar feed",
        verb="Fetched",
        employee_ids=employee_ids,
        also={"feed": feed_fingerprint(token), "client": client[:120]},
    )


# --- Onboarding ---------------------------------------------------------------------------


def template_for(employee: Employee) -> OnboardingTemplate | None:
    """The most specific template: team and job title, then team, then job title, then generic."""
    candidates = OnboardingTemplate.objects.all()
    best, best_score = None, -1
    for template in candidates:
        if template.team_id not in (None, employee.team_id):
            continue
        if template.job_title and template.job_title.lower() != employee.job_title.lower():
            continue
        score = 2 * (template.team_id is not None) + bool(template.job_title)
        if score > best_score:
            best, best_score = template, score
    return best


def _assignee(owner: str, employee: Employee, fallback: User | None) -> User | None:
    if owner == TaskOwner.NEW_HIRE:
        return employee.user
    if owner == TaskOwner.MANAGER and employee.team and employee.team.manager:
        return employee.team.manager.user
    if fallback is not None:
        return fallback
    return User.objects.filter(is_active=True, role__in=["hr", "owner"]).order_by("role", "pk").first()


@transaction.atomic
def launch_onboarding(
    *, employee: Employee, user: User | None, template: OnboardingTemplate | None = None
) -> Onboarding:
    """Create the new hire's checklist from a template; due dates count from the start date."""
    template = template or template_for(employee)
    if template is None:
        raise OnboardingError("No onboarding template fits this person; create one first.")
    onboarding = Onboarding.objects.create(employee=employee, template=template, started_by=user)
    OnboardingTask.objects.bulk_create(
        OnboardingTask(
            onboarding=onboarding,
            title=task.title,
            owner=task.owner,
            assignee=_assignee(task.owner, employee, task.assignee),
            due_date=employee.start_date + timedelta(days=task.due_offset_days),
        )
        for task in template.tasks.select_related("assignee")
    )
    record_audit(
        action="onboarding.launch",
        user=user,
        automation="" if user else "onboarding",
        obj=employee,
        summary=f"Onboarding of {employee} started from “{template}” ({onboarding.tasks.count()} tasks)",
    )
    return onboarding


@transaction.atomic
def complete_onboarding_task(*, task: OnboardingTask, user: User, done: bool = True) -> OnboardingTask:
    task = OnboardingTask.objects.select_for_update().select_related("onboarding__employee").get(pk=task.pk)
    if (task.done_at is not None) == done:
        return task  # already in that state: clicking twice changes nothing
    task.done_at = timezone.now() if done else None
    task.done_by = user if done else None
    task.save(update_fields=["done_at", "done_by"])
    record_audit(
        action="onboarding.task_done" if done else "onboarding.task_reopened",
        user=user,
        obj=task.onboarding.employee,
        summary=f"“{task.title}” {'done' if done else 'reopened'}",
    )
    return task


def claim_reminder(task_id: int, today: date) -> bool:
    """Claim today's reminder for a task; exactly one caller wins even if beat runs twice."""
    return (
        OnboardingTask.objects.filter(pk=task_id, done_at__isnull=True)
        .exclude(last_reminded_on=today)
        .update(last_reminded_on=today)
        == 1
    )
