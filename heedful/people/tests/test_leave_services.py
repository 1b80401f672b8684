from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail

from heedful.governance.models import AuditEvent
from heedful.people import queries, services
from heedful.people.links import LinkError
from heedful.people.models import LeaveRequest, LeaveStatus, LeaveType
from heedful.people.tests.factories import EmployeeFactory, PublicHolidayFactory

pytestmark = pytest.mark.django_db

MON, FRI = date(2026, 6, 1), date(2026, 6, 5)


def _links(message: Any) -> dict[str, str]:
    found = re.findall(r"(Approve|Reject): http://[^/]+(/people/leave/link/[^/]+/)", message.body)
    return dict(found)


def test_it_counts_working_days_without_holidays_and_half_days(
    eli_employee: Any, annual: LeaveType, employee: Any
) -> None:
    PublicHolidayFactory(date=date(2026, 6, 3))
    leave = services.request_leave(
        employee=eli_employee, leave_type=annual, start_date=MON, end_date=FRI, end_half=True, user=employee
    )
    assert leave.days == Decimal("3.5")
    assert leave.status == LeaveStatus.PENDING
    assert AuditEvent.objects.filter(action="leave.request", object_id=str(leave.pk)).count() == 1


def test_it_refuses_leave_beyond_the_balance_and_changes_nothing(eli_employee: Any, employee: Any) -> None:
    tight = LeaveType.objects.create(
        name="Tight", accrual_days=Decimal(2), carry_over_cap=0, approval_steps=[]
    )
    with pytest.raises(services.LeaveError, match=r"^This needs 5 days but only 2 are left for 2026\.$"):
        services.request_leave(
            employee=eli_employee, leave_type=tight, start_date=MON, end_date=FRI, user=employee
        )
    assert LeaveRequest.objects.count() == 0


def test_it_rejects_overlapping_leave_of_the_same_person(
    eli_employee: Any, annual: LeaveType, employee: Any
) -> None:
    services.request_leave(
        employee=eli_employee, leave_type=annual, start_date=MON, end_date=FRI, user=employee
    )
    with pytest.raises(services.LeaveError, match="already have leave"):
        services.request_leave(
            employee=eli_employee, leave_type=annual, start_date=FRI, end_date=FRI, user=employee
        )
    assert LeaveRequest.objects.count() == 1


def test_two_levels_approve_by_one_time_email_links(
    eli_employee: Any,
    annual: LeaveType,
    employee: Any,
    manager: Any,
    hr: Any,
    client: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        leave = services.request_leave(
            employee=eli_employee, leave_type=annual, start_date=MON, end_date=FRI, user=employee
        )
    assert [m.to for m in mail.outbox] == [[manager.email]]
    first = _links(mail.outbox[0])
    assert client.get(first["Approve"]).status_code == 200  # showing the page decides nothing
    assert LeaveRequest.objects.get(pk=leave.pk).current_step == 0

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(first["Approve"]).status_code == 200
    leave.refresh_from_db()
    assert (leave.status, leave.current_step) == (LeaveStatus.PENDING, 1)
    assert [m.to for m in mail.outbox[1:]] == [[hr.email]]

    reused = client.post(first["Reject"])
    assert reused.status_code == 410
    assert "already been used" in reused.content.decode()
    # Merely opening a spent link says so, without offering a button that could only fail.
    opened = client.get(first["Approve"])
    assert opened.status_code == 410
    assert opened.context["error"] == (
        "This link has already been used, or the request has moved on since it was sent."
    )

    with django_capture_on_commit_callbacks(execute=True):
        client.post(_links(mail.outbox[1])["Approve"])
    leave.refresh_from_db()
    assert leave.status == LeaveStatus.APPROVED
    assert list(leave.decisions.values_list("step_kind", "approved", "via", "decided_by")) == [
        ("manager", True, "email", manager.pk),
        ("hr", True, "email", hr.pk),
    ]
    assert mail.outbox[-1].to == [employee.email]
    assert mail.outbox[-1].subject == "Your leave request was approved"
    balance = queries.balances_of(eli_employee, MON)[0].balance
    assert (balance.used, balance.available) == (Decimal(5), Decimal(20))


def test_a_forged_or_tampered_link_decides_nothing(
    eli_employee: Any, annual: LeaveType, employee: Any
) -> None:
    leave = services.request_leave(
        employee=eli_employee, leave_type=annual, start_date=MON, end_date=FRI, user=employee
    )
    with pytest.raises(LinkError, match="not valid"):
        services.decide_leave_by_link("eyJyIjoxfQ:forged:sig")
    leave.refresh_from_db()
    assert (leave.status, leave.current_step) == (LeaveStatus.PENDING, 0)


def test_rejecting_at_the_first_level_rejects_and_frees_the_days(
    eli_employee: Any, annual: LeaveType, employee: Any, manager: Any
) -> None:
    leave = services.request_leave(
        employee=eli_employee, leave_type=annual, start_date=MON, end_date=FRI, user=employee
    )
    services.decide_leave(request=leave, user=manager, approve=False, comment="stock-take week")
    leave.refresh_from_db()
    assert leave.status == LeaveStatus.REJECTED
    assert queries.balances_of(eli_employee, MON)[0].balance.available == Decimal(25)


def test_a_manager_cannot_decide_the_hr_level_nor_their_own_leave(
    eli_employee: Any, annual: LeaveType, employee: Any, manager: Any, packing: Any
) -> None:
    leave = services.request_leave(
        employee=eli_employee, leave_type=annual, start_date=MON, end_date=FRI, user=employee
    )
    services.decide_leave(request=leave, user=manager, approve=True)
    with pytest.raises(services.LeaveError, match="not the approver"):
        services.decide_leave(request=leave, user=manager, approve=True)
    own = services.request_leave(
        employee=packing.manager, leave_type=annual, start_date=MON, end_date=FRI, user=manager
    )
    assert not queries.may_decide(manager, own)


def test_cancelling_gives_the_days_back_and_is_audited(
    eli_employee: Any, annual: LeaveType, employee: Any
) -> None:
    leave = services.request_leave(
        employee=eli_employee, leave_type=annual, start_date=MON, end_date=FRI, user=employee
    )
    services.cancel_leave(request=leave, user=employee, today=date(2026, 5, 1))
    leave.refresh_from_db()
    assert leave.status == LeaveStatus.CANCELLED
    assert queries.balances_of(eli_employee, MON)[0].balance.available == Decimal(25)
    assert AuditEvent.objects.filter(action="leave.cancel", object_id=str(leave.pk)).count() == 1


def test_an_employee_cannot_cancel_leave_that_has_started(
    eli_employee: Any, annual: LeaveType, employee: Any
) -> None:
    leave = services.request_leave(
        employee=eli_employee, leave_type=annual, start_date=MON, end_date=FRI, user=employee
    )
    with pytest.raises(services.LeaveError, match="has started"):
        services.cancel_leave(request=leave, user=employee, today=date(2026, 6, 2))
    assert LeaveRequest.objects.get(pk=leave.pk).status == LeaveStatus.PENDING


def test_leave_without_approval_steps_is_approved_at_once(eli_employee: Any, employee: Any) -> None:
    sick = LeaveType.objects.create(
        name="Sick", accrual_days=Decimal(0), allow_negative=True, approval_steps=[]
    )
    leave = services.request_leave(
        employee=eli_employee, leave_type=sick, start_date=MON, end_date=MON, user=employee
    )
    assert leave.status == LeaveStatus.APPROVED
    assert [r.balance.available for r in queries.balances_of(eli_employee, MON)] == [Decimal(-1)]


def test_teammates_away_the_same_days_are_flagged(
    eli_employee: Any, annual: LeaveType, employee: Any, packing: Any
) -> None:
    colleague = EmployeeFactory(first_name="Tom", team=packing)
    LeaveRequest.objects.create(
        employee=colleague,
        leave_type=annual,
        start_date=FRI,
        end_date=FRI,
        days=1,
        status=LeaveStatus.APPROVED,
    )
    assert [o.employee.first_name for o in queries.overlapping_absences(eli_employee, MON, FRI)] == ["Tom"]


def test_cancelling_a_request_that_waits_for_the_manager_tells_the_manager(
    eli_employee: Any, annual: LeaveType, employee: Any, manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        leave = services.request_leave(
            employee=eli_employee, leave_type=annual, start_date=MON, end_date=FRI, user=employee
        )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_leave(request=leave, user=employee, today=date(2026, 5, 1))
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["eli@example.com"], "Your leave request was cancelled"),
        (["max@example.com"], "Leave request from Eli Example was cancelled"),
    ]
    assert mail.outbox[1].body == (
        "Eli Example: Annual leave, 2026-06-01 to 2026-06-05, 5 working days\n\n"
        "It was cancelled before your decision: nothing more to do.\n"
    )


def test_leave_over_new_year_is_spent_from_each_years_balance_with_each_years_holidays(
    eli_employee: Any, annual: LeaveType, employee: Any, hr: Any
) -> None:
    """Wed 30 Dec 2026 – Tue 5 Jan 2027, New Year's Day a holiday, the last day a half day."""
    PublicHolidayFactory(date=date(2027, 1, 1))
    leave = services.request_leave(
        employee=eli_employee,
        leave_type=annual,
        start_date=date(2026, 12, 30),
        end_date=date(2027, 1, 5),
        end_half=True,
        user=employee,
    )
    assert (leave.days, leave.days_by_year) == (Decimal("3.5"), {"2026": "2", "2027": "1.5"})
    old, new = (
        queries.balances_of(eli_employee, date(2026, 12, 31))[0],
        queries.balances_of(eli_employee, date(2027, 1, 1))[0],
    )
    # 25 a year, up to 5 carried over: 2026 keeps 23 of which 5 carry; 2027 spends 1.5 of 30.
    assert (old.balance.used, old.balance.available, old.pending) == (2, 23, 2)
    assert (new.balance.carried_over, new.balance.used, new.balance.available, new.pending) == (
        5,
        Decimal("1.5"),
        Decimal("28.5"),
        Decimal("1.5"),
    )
    services.cancel_leave(request=leave, user=hr, today=date(2026, 12, 1))
    old, new = (
        queries.balances_of(eli_employee, date(2026, 12, 31))[0],
        queries.balances_of(eli_employee, date(2027, 1, 1))[0],
    )
    assert (old.balance.used, old.balance.available, new.balance.used, new.balance.available) == (
        0,
        25,
        0,
        30,
    )


def test_leave_over_new_year_is_refused_when_the_new_years_part_does_not_fit(
    eli_employee: Any, employee: Any
) -> None:
    """Two days a year, nothing carried: three days in January do not fit, two in December do."""
    tight = LeaveType.objects.create(
        name="Tight", accrual_days=Decimal(2), carry_over_cap=0, approval_steps=[]
    )
    with pytest.raises(
        services.LeaveError, match=r"^This needs 3 days in 2027 but only 2 are left for 2027\.$"
    ):
        services.request_leave(
            employee=eli_employee,
            leave_type=tight,
            start_date=date(2026, 12, 30),
            end_date=date(2027, 1, 5),
            user=employee,
        )
    assert LeaveRequest.objects.count() == 0
    leave = services.request_leave(
        employee=eli_employee,
        leave_type=tight,
        start_date=date(2026, 12, 30),
        end_date=date(2027, 1, 4),
        user=employee,
    )
    # Counted in 2026 alone (the old behaviour) these four days would have been refused.
    assert (leave.status, leave.days_by_year) == (LeaveStatus.APPROVED, {"2026": "2", "2027": "2"})


def test_leave_that_would_leave_a_later_year_short_through_the_carry_over_is_refused(
    eli_employee: Any, employee: Any
) -> None:
    """Two days a year, two carried over: four days booked in January 2027 need December's two."""
    tight = LeaveType.objects.create(
        name="Tight", accrual_days=Decimal(2), carry_over_cap=Decimal(2), approval_steps=[]
    )
    january = services.request_leave(
        employee=eli_employee,
        leave_type=tight,
        start_date=date(2027, 1, 4),
        end_date=date(2027, 1, 7),
        user=employee,
    )
    assert january.days == 4
    with pytest.raises(
        services.LeaveError,
        match=r"^This would leave 2027 short by 2 days: less would carry over into it than the leave "
        r"already booked there needs\.$",
    ):
        services.request_leave(
            employee=eli_employee,
            leave_type=tight,
            start_date=date(2026, 12, 7),
            end_date=date(2026, 12, 8),
            user=employee,
        )
    assert LeaveRequest.objects.count() == 1
