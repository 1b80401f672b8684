"""The workflow events people emit: exactly one per change, with the catalogue's payload."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from heedful.governance.models import AuditEvent
from heedful.people import services
from heedful.people.models import Employee, LeaveType, Team
from heedful.workflows.catalogue import CATALOGUE
from heedful.workflows.models import Event

pytestmark = pytest.mark.django_db


def _events() -> list[tuple[str, str, str, dict[str, Any]]]:
    return [(e.name, e.subject_type, e.subject_id, e.payload) for e in Event.objects.order_by("pk")]


def test_hiring_someone_emits_employee_hired_with_the_catalogue_keys(hr: Any, packing: Team) -> None:
    eli = services.hire_employee(
        first_name="Eli ",
        last_name="Sand",
        email="Eli.Sand@Example.com",
        job_title="Packer",
        team=packing,
        start_date=date(2026, 12, 1),
        region="DE-BE",
        user=hr,
        today=date(2026, 11, 25),
    )
    payload = {
        "employee": {
            "id": eli.pk,
            "email": "eli.sand@example.com",
            "first_name": "Eli",
            "job_title": "Packer",
            "team": "Packing",
            "start_date": "2026-12-01",
        }
    }
    assert _events() == [("employee.hired", "employee", str(eli.pk), payload)]
    assert payload.keys() == CATALOGUE["employee.hired"].example.keys()
    assert payload["employee"].keys() == CATALOGUE["employee.hired"].example["employee"].keys()
    assert AuditEvent.objects.get(action="people.hire").summary == "Eli Sand joins Packing on 2026-12-01"


@pytest.mark.parametrize(("started", "hired"), [(date(2026, 10, 26), True), (date(2026, 10, 25), False)])
def test_adding_someone_who_started_over_30_days_ago_is_not_a_hire(
    hr: Any, started: date, hired: bool
) -> None:
    # Setting heedful up means adding everyone; the onboarding workflow must not welcome them.
    services.hire_employee(
        first_name="Yara", email="yara@example.com", start_date=started, user=hr, today=date(2026, 11, 25)
    )

    assert [name for name, *_ in _events()] == (["employee.hired"] if hired else [])
    assert AuditEvent.objects.get(action="people.hire").summary == f"Yara joins no team on {started}"


def test_only_hr_hires_and_a_refused_hire_leaves_nothing_behind(manager: Any, packing: Team) -> None:
    with pytest.raises(services.PeopleError, match="Only HR can add employees"):
        services.hire_employee(
            first_name="Eve", email="eve@example.com", start_date=date(2026, 12, 1), user=manager
        )
    with pytest.raises(services.PeopleError, match=r"max@example\.com already belongs to an employee"):
        services.hire_employee(first_name="Max", email="MAX@example.com", start_date=date(2026, 12, 1))
    assert not Employee.objects.filter(first_name="Eve").exists()
    assert Event.objects.count() == 0


def test_a_leave_request_emits_leave_requested_naming_the_first_approver(
    eli_employee: Employee, annual: LeaveType, employee: Any, manager: Any
) -> None:
    leave = services.request_leave(
        employee=eli_employee,
        leave_type=annual,
        start_date=date(2026, 6, 1),
        end_date=date(2026, 6, 3),
        end_half=True,
        note="Dentist and a wedding",
        user=employee,
    )
    payload = {
        "employee": {"id": eli_employee.pk, "first_name": "Eli"},
        "leave": {
            "id": leave.pk,
            "type": "Annual leave",
            "days": 2.5,
            "start_date": "2026-06-01",
            "end_date": "2026-06-03",
            "approval_levels": 2,
            "approver_email": "max@example.com",
        },
    }
    assert _events() == [("leave.requested", "employee", str(eli_employee.pk), payload)]
    assert payload["leave"].keys() == CATALOGUE["leave.requested"].example["leave"].keys()


def test_leave_without_approval_still_emits_one_event_with_no_approver(
    eli_employee: Employee, employee: Any
) -> None:
    sick = LeaveType.objects.create(name="Sick leave", allow_negative=True, approval_steps=[])
    leave = services.request_leave(
        employee=eli_employee,
        leave_type=sick,
        start_date=date(2026, 6, 1),
        end_date=date(2026, 6, 1),
        user=employee,
    )
    [event] = Event.objects.all()
    assert event.payload["leave"] == {
        "id": leave.pk,
        "type": "Sick leave",
        "days": 1.0,
        "start_date": "2026-06-01",
        "end_date": "2026-06-01",
        "approval_levels": 0,
        "approver_email": "",
    }


def test_a_refused_leave_request_emits_nothing(eli_employee: Employee, employee: Any) -> None:
    tight = LeaveType.objects.create(name="Tight", accrual_days=1, carry_over_cap=0, approval_steps=[])
    with pytest.raises(services.LeaveError):
        services.request_leave(
            employee=eli_employee,
            leave_type=tight,
            start_date=date(2026, 6, 1),
            end_date=date(2026, 6, 5),
            user=employee,
        )
    assert Event.objects.count() == 0


def test_an_invited_persons_first_sign_in_links_their_employee_record(hr: Any, packing: Team) -> None:
    from django.test import Client

    from heedful.accounts.tests.factories import UserFactory

    eva = services.hire_employee(
        first_name="Eva", email="eva@example.com", start_date=date(2026, 12, 1), user=hr
    )
    assert eva.user is None
    account = UserFactory(email="eva@example.com", password="a-long-passphrase-1")
    client = Client()
    assert (
        client.post(
            "/accounts/login/", {"username": "eva@example.com", "password": "a-long-passphrase-1"}
        ).status_code
        == 302
    )
    eva.refresh_from_db()
    assert eva.user == account
    assert AuditEvent.objects.get(action="people.link_account").summary == (
        "eva@example.com signed in: linked to the employee record with that work email"
    )
    assert client.get("/people/leave/").status_code == 200
    # Hiring someone who already has an account links them at once.
    olga = UserFactory(email="olga@example.com")
    hired = services.hire_employee(
        first_name="Olga", email="OLGA@example.com", start_date=date(2026, 12, 1), user=hr
    )
    assert hired.user == olga
