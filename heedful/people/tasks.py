"""Celery tasks for people: leave email and onboarding reminders. Idempotent: each email is
claimed in ``SentNotification`` under a key that names the exact state it is about."""

from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from heedful.people import queries
from heedful.people.links import make_decision_token
from heedful.people.models import LeaveRequest, LeaveStatus, OnboardingTask
from heedful.people.notifications import send_once, url
from heedful.people.services import claim_reminder


def _describe(r: LeaveRequest) -> str:
    halves = []
    if r.start_half:
        halves.append("first day half")
    if r.end_half:
        halves.append("last day half")
    extra = f" ({', '.join(halves)})" if halves else ""
    days = f"{r.days.normalize():f}"  # 2.5, not 2.50; 3, not 3.00
    return f"{r.employee}: {r.leave_type}, {r.start_date} to {r.end_date}{extra}, {days} working days"


@shared_task
def notify_leave_task(request_id: int, event: str) -> int:
    """Email what a leave change means to whoever must act or know. Returns messages sent now."""
    r = (
        LeaveRequest.objects.select_related("employee__team__manager__user", "employee__user", "leave_type")
        .filter(pk=request_id)
        .first()
    )
    if r is None:
        return 0
    if event == "decide":
        return _ask_approvers(r)
    if r.status != {"approved": LeaveStatus.APPROVED, "rejected": LeaveStatus.REJECTED}.get(event, r.status):
        return 0  # the request changed again before this ran; a later task tells the news
    to = r.employee.user.email if r.employee.user else r.employee.email
    subject = f"Your leave request was {r.get_status_display()}"
    body = f"{_describe(r)}\n\nStatus: {r.get_status_display()}.\n\nYour leave: {url('people:my-leave')}\n"
    sent = int(send_once(f"leave:{r.pk}:{event}:{to}", to=to, subject=subject, body=body))
    if event == "cancelled" and r.current_step < len(r.leave_type.approval_steps):
        sent += _tell_approvers_it_was_cancelled(r)
    return sent


def _tell_approvers_it_was_cancelled(r: LeaveRequest) -> int:
    """Cancelled while waiting for a level: whoever was asked need not act (their links now fail)."""
    sent = 0
    for approver in queries.approvers_for(r, r.step_kind):
        sent += send_once(
            f"leave:{r.pk}:cancelled:{approver.pk}",
            to=approver.email,
            subject=f"Leave request from {r.employee} was cancelled",
            body=f"{_describe(r)}\n\nIt was cancelled before your decision: nothing more to do.\n",
        )
    return sent


def _ask_approvers(r: LeaveRequest) -> int:
    if r.status != LeaveStatus.PENDING:
        return 0
    overlaps = list(queries.overlapping_absences(r.employee, r.start_date, r.end_date))
    warning = (
        "\nAlso away then: "
        + "; ".join(f"{o.employee} ({o.start_date} – {o.end_date})" for o in overlaps)
        + "\n"
        if overlaps
        else ""
    )
    sent = 0
    steps = len(r.leave_type.approval_steps)
    for approver in queries.approvers_for(r, r.step_kind):
        links = {
            approve: url(
                "people:leave-link",
                make_decision_token(
                    request_id=r.pk, approver_id=approver.pk, approve=approve, nonce=r.decision_nonce
                ),
            )
            for approve in (True, False)
        }
        body = (
            f"{_describe(r)}\nNote: {r.note or '—'}\n{warning}\n"
            f"Approval level {r.current_step + 1} of {steps} ({r.step_kind}).\n\n"
            f"Approve: {links[True]}\nReject: {links[False]}\n\n"
            "Each link works once. You can also decide on the leave page: "
            f"{url('people:leave-detail', r.pk)}\n"
        )
        sent += send_once(
            f"leave:{r.pk}:decide:{r.decision_nonce}:{approver.pk}",
            to=approver.email,
            subject=f"Leave request from {r.employee} needs your decision",
            body=body,
        )
    return sent


@shared_task
def send_onboarding_reminders_task(today_iso: str | None = None) -> int:
    """Remind assignees of onboarding tasks due tomorrow or overdue, at most once a day each."""
    today = date.fromisoformat(today_iso) if today_iso else timezone.localdate()
    due = (
        OnboardingTask.objects.filter(done_at__isnull=True, due_date__lte=today + timedelta(days=1))
        .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=today))
        .select_related("assignee", "onboarding__employee")
    )
    sent = 0
    for task in due:
        if task.assignee is None or not claim_reminder(task.pk, today):
            continue
        state = "overdue since" if task.due_date < today else "due on"
        sent += send_once(
            f"onboarding:{task.pk}:{today}",
            to=task.assignee.email,
            subject=f"Onboarding of {task.onboarding.employee}: “{task.title}” is {state.split()[0]}",
            body=(
                f"“{task.title}” for {task.onboarding.employee}'s onboarding is {state} {task.due_date}.\n\n"
                f"Checklist: {url('people:onboarding-detail', task.onboarding_id)}\n"
            ),
        )
    return sent
