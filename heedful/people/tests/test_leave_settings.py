"""HR keeps leave types, policies and public holidays on a page of its own, every change audited."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from heedful.governance.models import AuditEvent
from heedful.people import services
from heedful.people.models import LeaveType, PublicHoliday

pytestmark = pytest.mark.django_db


def _policy(**changes: str) -> dict[str, str]:
    form = {
        "name": "Annual leave",
        "accrual_days": "25",
        "accrual_period": "month",
        "carry_over_cap": "5",
        "approval_steps": "manager, hr",
        "is_active": "on",
    }
    form.update(changes)
    return form


def _audit(prefix: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    events = AuditEvent.objects.filter(action__startswith=prefix).order_by("pk")
    return [(e.action, e.actor_label, e.summary, e.changes) for e in events]


def test_hr_creates_and_changes_a_leave_policy_and_each_change_is_audited(hr_client: Any) -> None:
    response = hr_client.post("/people/settings/leave/types/new/", _policy())
    assert response["Location"] == "/people/settings/leave/"
    annual = LeaveType.objects.get()
    assert (annual.accrual_days, annual.accrual_period, annual.carry_over_cap, annual.approval_steps) == (
        Decimal(25),
        "month",
        Decimal(5),
        ["manager", "hr"],
    )
    url = f"/people/settings/leave/types/{annual.pk}/"
    assert hr_client.post(url, _policy(carry_over_cap="3", approval_steps="hr")).status_code == 302
    assert hr_client.post(url, _policy(carry_over_cap="3.00", approval_steps="hr")).status_code == 302
    assert _audit("people.leavetype") == [
        (
            "people.leavetype.create",
            "hana@example.com",
            "leave type “Annual leave” created on the leave settings page",
            {
                "name": [None, "Annual leave"],
                "accrual_days": [None, "25"],
                "accrual_period": [None, "month"],
                "carry_over_cap": [None, "5"],
                "allow_negative": [None, False],
                "approval_steps": [None, ["manager", "hr"]],
                "is_active": [None, True],
            },
        ),
        # The second save changed nothing ("3.00" is 3), so it left no row.
        (
            "people.leavetype.change",
            "hana@example.com",
            "leave type “Annual leave” changed on the leave settings page",
            {"carry_over_cap": ["5", "3"], "approval_steps": [["manager", "hr"], ["hr"]]},
        ),
    ]
    page = hr_client.get("/people/settings/leave/").content.decode()
    assert "<td>hr</td>" in page


def test_a_field_is_checked_in_place_as_it_changes_and_nothing_is_saved(hr_client: Any) -> None:
    response = hr_client.post(
        "/people/settings/leave/types/new/",
        {"_check": "1", "name": "", "approval_steps": "manager, boss", "carry_over_cap": "-1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    # Only the error regions, each swapped out of band: the inputs on the page are left alone.
    assert response.templates[0].name == "includes/form_errors_oob.html"
    assert "base.html" not in [t.name for t in response.templates]
    regions = re.findall(
        r'<div id="([^"]+)" role="alert" hx-swap-oob="true">(.*?)</div>', response.content.decode(), re.S
    )
    assert [(region, bool(text.strip())) for region, text in regions] == [
        ("leave-type-form-errors", False),
        ("id_name_errors", False),
        ("id_accrual_days_errors", False),
        ("id_accrual_period_errors", False),
        ("id_carry_over_cap_errors", True),
        ("id_allow_negative_errors", False),
        ("id_approval_steps_errors", True),
        ("id_is_active_errors", False),
    ]
    assert "<form" not in response.content.decode()
    assert dict(response.context["form"].errors) == {
        "approval_steps": ["Unknown level: boss. Use manager and hr, in order, e.g. “manager, hr”."],
        "carry_over_cap": ["At least 0; leave it empty for no limit."],
    }
    # Fields not filled in yet are not scolded while the form is being filled in; on save they are.
    saved = hr_client.post("/people/settings/leave/types/new/", _policy(name="", accrual_days="400"))
    assert dict(saved.context["form"].errors) == {
        "name": ["This field is required."],
        "accrual_days": ["Between 0 and 366 days a year."],
    }
    assert (LeaveType.objects.count(), _audit("people.")) == (0, [])


def test_a_holiday_is_checked_in_place_as_its_fields_change(hr_client: Any) -> None:
    response = hr_client.post(
        "/people/settings/holidays/?year=2026",
        {"_check": "1", "region": "Berlin", "date": "", "name": ""},
        HTTP_HX_REQUEST="true",
    )
    regions = dict(
        re.findall(
            r'<div id="([^"]+)" role="alert" hx-swap-oob="true">(.*?)</div>', response.content.decode(), re.S
        )
    )
    assert list(regions) == ["holiday-form-errors", "id_region_errors", "id_date_errors", "id_name_errors"]
    assert "A country code, optionally with a region: DE, DE-BE, AT-9." in regions["id_region_errors"]
    assert [regions[r].strip() for r in ("holiday-form-errors", "id_date_errors", "id_name_errors")] == [
        "",
        "",
        "",
    ]
    assert PublicHoliday.objects.count() == 0


def test_only_hr_and_the_owner_reach_the_leave_settings(
    manager_client: Any, employee_client: Any, owner_client: Any, hr_client: Any
) -> None:
    for client in (manager_client, employee_client):
        assert client.get("/people/settings/leave/").status_code == 403
        assert client.post("/people/settings/leave/types/new/", _policy()).status_code == 403
        assert (
            client.post("/people/settings/holidays/", {"region": "DE", "date": "2026-12-25"}).status_code
            == 403
        )
    assert LeaveType.objects.count() == 0
    assert owner_client.get("/people/settings/leave/").status_code == 200
    assert 'href="/people/settings/leave/"' in hr_client.get("/people/").content.decode()


def test_hr_adds_and_removes_public_holidays_and_new_requests_count_with_them(
    hr_client: Any, eli_employee: Any, employee: Any, annual: LeaveType
) -> None:
    added = hr_client.post(
        "/people/settings/holidays/?year=2026", {"region": "de-be", "date": "2026-06-03", "name": "Town fair"}
    )
    assert added["Location"] == "/people/settings/holidays/?year=2026"
    fair = PublicHoliday.objects.get()
    assert (fair.region, fair.date, fair.name) == ("DE-BE", date(2026, 6, 3), "Town fair")
    again = hr_client.post(
        "/people/settings/holidays/", {"region": "DE-BE", "date": "2026-06-03", "name": "Twice"}
    )
    bad = hr_client.post(
        "/people/settings/holidays/", {"region": "Berlin", "date": "2026-06-04", "name": "X"}
    )
    assert dict(again.context["form"].errors) == {"date": ["Already a holiday in DE-BE: Town fair."]}
    assert dict(bad.context["form"].errors) == {
        "region": ["A country code, optionally with a region: DE, DE-BE, AT-9."]
    }
    page = hr_client.get("/people/settings/holidays/?year=2026")
    assert page.context["regions"] == [("DE-BE", 2, [fair])]  # Max and Eli
    leave = services.request_leave(
        employee=eli_employee,
        leave_type=annual,
        start_date=date(2026, 6, 1),
        end_date=date(2026, 6, 5),
        user=employee,
    )
    assert leave.days == 4
    assert hr_client.post(f"/people/settings/holidays/{fair.pk}/delete/").status_code == 302
    assert PublicHoliday.objects.count() == 0
    leave.refresh_from_db()
    assert leave.days == 4  # a request keeps the days it was counted with
    assert _audit("people.publicholiday") == [
        (
            "people.publicholiday.create",
            "hana@example.com",
            "public holiday “Town fair (DE-BE, 2026-06-03)” added on the leave settings page",
            {"region": [None, "DE-BE"], "date": [None, "2026-06-03"]},
        ),
        (
            "people.publicholiday.delete",
            "hana@example.com",
            "public holiday “Town fair (DE-BE, 2026-06-03)” removed on the leave settings page",
            {"region": ["DE-BE", None], "date": ["2026-06-03", None]},
        ),
    ]
