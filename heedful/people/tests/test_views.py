"""Who sees what: managers their team, HR everyone (audited), agents nothing of HR."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from heedful.governance.models import AuditEvent
from heedful.people import services
from heedful.people.links import make_decision_token, make_ical_token
from heedful.people.models import LeaveRequest, LeaveStatus, OnboardingTaskTemplate, OnboardingTemplate
from heedful.people.tasks import send_onboarding_reminders_task
from heedful.people.tests.factories import EmployeeFactory

pytestmark = pytest.mark.django_db


def _leave(employee: Any, leave_type: Any, start: date = date(2026, 6, 1)) -> LeaveRequest:
    return LeaveRequest.objects.create(
        employee=employee,
        leave_type=leave_type,
        start_date=start,
        end_date=start,
        days=Decimal(1),
        status=LeaveStatus.APPROVED,
    )


def test_a_manager_cannot_see_another_teams_leave(
    manager_client: Any, other_team: Any, annual: Any, packing: Any
) -> None:
    theirs = _leave(other_team.members.get(), annual)
    assert manager_client.get(f"/people/leave/{theirs.pk}/").status_code == 403
    assert manager_client.get(f"/api/v1/leave-requests/{theirs.pk}/").status_code in (403, 404)


def test_a_manager_reads_own_teams_leave_and_the_read_is_audited(
    manager_client: Any, manager: Any, eli_employee: Any, annual: Any
) -> None:
    leave = _leave(eli_employee, annual)
    assert manager_client.get(f"/people/leave/{leave.pk}/").status_code == 200
    event = AuditEvent.objects.get(action="people.read")
    assert (event.actor_user, event.object_id) == (manager, str(eli_employee.pk))


def test_an_agent_sees_no_hr_data(agent_client: Any, eli_employee: Any, annual: Any) -> None:
    leave = _leave(eli_employee, annual)
    assert agent_client.get("/people/").status_code == 403
    assert agent_client.get(f"/people/{eli_employee.pk}/").status_code == 403
    assert agent_client.get(f"/people/leave/{leave.pk}/").status_code == 403
    assert agent_client.get("/people/leave/team/").status_code == 403


def test_hr_lists_everyone_with_a_fixed_number_of_queries(
    hr_client: Any, eli_employee: Any, other_team: Any, django_assert_num_queries: Any
) -> None:
    for _ in range(5):
        EmployeeFactory(team=other_team)
    with django_assert_num_queries(3):  # session, user, employees with teams
        response = hr_client.get("/people/")
    assert len(response.context["employees"]) == 8


def test_an_employee_requests_leave_from_the_page(
    employee_client: Any, eli_employee: Any, annual: Any
) -> None:
    response = employee_client.post(
        "/people/leave/",
        {"leave_type": annual.pk, "start_date": "2026-06-01", "end_date": "2026-06-02", "note": "family"},
    )
    leave = LeaveRequest.objects.get()
    assert response["Location"] == f"/people/leave/{leave.pk}/"
    assert (leave.days, leave.status) == (Decimal(2), LeaveStatus.PENDING)


def test_the_me_page_shows_what_is_held_and_who_read_it(
    employee_client: Any, eli_employee: Any, hr_client: Any, annual: Any
) -> None:
    hr_client.get(f"/people/{eli_employee.pk}/")
    html = employee_client.get("/people/me/").content.decode()
    assert "eli@example.com" in html
    assert "hana@example.com" in html
    assert "Viewed the HR record of Eli Example" in html


def test_the_ical_feed_is_rfc5545_with_crlf_and_escaping(
    manager: Any, client: Any, eli_employee: Any, annual: Any
) -> None:
    today = timezone.localdate()
    _leave(eli_employee, annual, today + timedelta(days=3))
    response = client.get(f"/people/calendar/{make_ical_token(manager.pk)}.ics")
    body = response.content.decode()
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert "SUMMARY:Eli Example: Annual leave\r\n" in body
    assert f"DTEND;VALUE=DATE:{today + timedelta(days=4):%Y%m%d}\r\n" in body
    assert client.get("/people/calendar/forged.ics").status_code == 404


def test_onboarding_runs_with_reminders_once_a_day(
    hr: Any, eli_employee: Any, employee: Any, manager: Any
) -> None:
    template = OnboardingTemplate.objects.create(name="Packing starter", team=eli_employee.team)
    OnboardingTaskTemplate.objects.create(
        template=template, title="Prepare a locker", owner="manager", due_offset_days=-1
    )
    OnboardingTaskTemplate.objects.create(
        template=template, title="Read the safety guide", owner="new_hire", due_offset_days=2
    )
    onboarding = services.launch_onboarding(employee=eli_employee, user=hr)
    assert [(t.title, t.assignee, t.due_date) for t in onboarding.tasks.all()] == [
        ("Prepare a locker", manager, date(2025, 12, 31)),
        ("Read the safety guide", employee, date(2026, 1, 3)),
    ]
    assert send_onboarding_reminders_task("2026-01-02") == 2
    assert send_onboarding_reminders_task("2026-01-02") == 0
    assert sorted(m.to[0] for m in mail.outbox) == [employee.email, manager.email]
    assert mail.outbox[0].subject == "Onboarding of Eli Example: “Prepare a locker” is overdue"


def test_the_new_hire_ticks_their_own_task_but_not_the_managers(
    employee_client: Any, eli_employee: Any, hr: Any
) -> None:
    template = OnboardingTemplate.objects.create(name="Generic")
    OnboardingTaskTemplate.objects.create(template=template, title="Locker", owner="manager")
    OnboardingTaskTemplate.objects.create(
        template=template, title="Guide", owner="new_hire", due_offset_days=1
    )
    onboarding = services.launch_onboarding(employee=eli_employee, user=hr)
    locker, guide = onboarding.tasks.all()
    url = f"/people/onboarding/{onboarding.pk}/tasks/"
    assert employee_client.post(f"{url}{locker.pk}/toggle/").status_code == 403
    response = employee_client.post(f"{url}{guide.pk}/toggle/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="task-' in response.content.decode()
    guide.refresh_from_db()
    locker.refresh_from_db()
    assert (guide.done_at is not None, locker.done_at) == (True, None)


def test_the_leave_page_shows_next_years_balance_when_asked(
    employee_client: Any, eli_employee: Any, annual: Any
) -> None:
    """Leave booked for January is spent from next year's balance; that balance is one click away."""
    next_year = timezone.localdate().year + 1
    _leave(eli_employee, annual, start=date(next_year, 1, 5))
    this = employee_client.get("/people/leave/").context
    assert (this["year"], this["years"][1]) == (next_year - 1, next_year - 1)
    assert this["balances"][0].balance.used == 0
    ahead = employee_client.get(f"/people/leave/?year={next_year}")
    row = ahead.context["balances"][0]
    assert (row.balance.year, row.balance.used, row.balance.accrued) == (next_year, 1, 25)
    assert f'<strong aria-current="page">{next_year}</strong>' in ahead.content.decode()
    # Years further away, or not numbers, fall back to this year rather than failing.
    assert employee_client.get(f"/people/leave/?year={next_year + 5}").context["year"] == next_year - 1
    assert employee_client.get("/people/leave/?year=soon").context["year"] == next_year - 1


def test_hr_adds_a_new_hire_whose_onboarding_starts_and_workflows_hear_of_it(
    hr_client: Any, manager_client: Any, packing: Any
) -> None:
    from heedful.people.models import Employee, Onboarding
    from heedful.workflows.models import Event

    template = OnboardingTemplate.objects.create(name="Packing starter", team=packing)
    OnboardingTaskTemplate.objects.create(
        template=template, title="Safety shoes", owner="manager", due_offset_days=-1
    )
    first_day = timezone.localdate() + timedelta(days=8)  # ahead: a hire workflows hear of
    form = {
        "first_name": "Ida",
        "last_name": "Berg",
        "email": "ida@example.com",
        "job_title": "Packer",
        "team": packing.pk,
        "start_date": first_day.isoformat(),
        "region": "DE-BE",
        "start_onboarding": "on",
    }
    assert manager_client.post("/people/new/", form).status_code == 403
    response = hr_client.post("/people/new/", form)
    ida = Employee.objects.get(email="ida@example.com")
    onboarding = Onboarding.objects.get(employee=ida)
    assert response["Location"] == f"/people/onboarding/{onboarding.pk}/"
    assert list(onboarding.tasks.values_list("title", "due_date", "assignee__email")) == [
        ("Safety shoes", first_day - timedelta(days=1), "max@example.com")
    ]
    assert list(Event.objects.values_list("name", "subject_id")) == [("employee.hired", str(ida.pk))]
    again = hr_client.post("/people/new/", form)
    assert again.status_code == 200
    assert "ida@example.com already belongs to an employee." in again.content.decode()
    assert Employee.objects.filter(email="ida@example.com").count() == 1


def test_reading_lists_of_other_peoples_leave_is_audited_once_per_list(
    hr: Any,
    hr_client: Any,
    api_client_for: Any,
    employee_client: Any,
    eli_employee: Any,
    other_team: Any,
    annual: Any,
) -> None:
    cara = other_team.members.get()
    _leave(eli_employee, annual)
    _leave(cara, annual)
    _leave(cara, annual, start=date(2026, 7, 1))
    assert hr_client.get("/people/leave/team/").status_code == 200
    assert api_client_for(hr).get("/api/v1/leave-requests/").json()["count"] == 3
    reads = AuditEvent.objects.filter(action="people.read").order_by("pk")
    assert [(e.actor_user, e.summary, e.changes) for e in reads] == [
        (hr, "Viewed the team leave list (2 people)", {"employees": sorted([eli_employee.pk, cara.pk])}),
        (
            hr,
            "Viewed leave requests through the API (2 people)",
            {"employees": sorted([eli_employee.pk, cara.pk])},
        ),
    ]
    # Reading one's own leave leaves no trace: it is nobody else's business.
    assert employee_client.get("/api/v1/leave-requests/").json()["count"] == 1
    assert reads.count() == 2


def test_the_calendar_read_by_hr_is_audited_and_shown_on_the_persons_own_page(
    hr: Any, hr_client: Any, employee_client: Any, eli_employee: Any, annual: Any
) -> None:
    _leave(eli_employee, annual, start=date(2026, 6, 3))
    assert hr_client.get("/people/calendar/?month=2026-06").status_code == 200
    read = AuditEvent.objects.get(action="people.read")
    assert (read.actor_user, read.summary, read.changes) == (
        hr,
        "Viewed the leave calendar for June 2026 (1 person)",
        {"employees": [eli_employee.pk]},
    )
    # Eli's own calendar (teammates' days away, no reasons) is no HR read; his "me" page lists Hana's.
    assert employee_client.get("/people/calendar/?month=2026-06").status_code == 200
    me = employee_client.get("/people/me/")
    assert [event.summary for event in me.context["audit"]] == [
        "Viewed the leave calendar for June 2026 (1 person)"
    ]


def test_asking_for_leave_when_a_teammate_is_away_warns_the_asker(
    employee_client: Any, eli_employee: Any, annual: Any, packing: Any
) -> None:
    mia = EmployeeFactory(first_name="Mia", last_name="Stone", team=packing)
    _leave(mia, annual, start=date(2026, 6, 2))
    response = employee_client.post(
        "/people/leave/",
        {"leave_type": annual.pk, "start_date": "2026-06-01", "end_date": "2026-06-03"},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [
        "Requested 3 days of Annual leave.",
        "Also away from your team then: Mia Stone (2026-06-02 – 2026-06-02).",
    ]


def test_each_fetch_of_a_feed_that_shows_reasons_is_one_audited_read_naming_the_address(
    manager: Any, employee: Any, client: Any, eli_employee: Any, annual: Any, packing: Any
) -> None:
    today = timezone.localdate()
    _leave(eli_employee, annual, today + timedelta(days=3))
    token = make_ical_token(manager.pk)
    for _ in range(2):
        assert (
            client.get(f"/people/calendar/{token}.ics", HTTP_USER_AGENT="CalendarApp/1.0").status_code == 200
        )
    reads = AuditEvent.objects.filter(action="people.read").order_by("pk")
    fingerprint = services.feed_fingerprint(token)
    assert len(fingerprint) == 12
    assert fingerprint not in token  # the log never holds the address itself
    assert [(e.actor_user, e.summary, e.changes) for e in reads] == 2 * [
        (
            manager,
            "Fetched the leave calendar feed (1 person)",
            {"employees": [eli_employee.pk], "feed": fingerprint, "client": "CalendarApp/1.0"},
        )
    ]
    # Eli's own feed says only "away" for teammates, like his calendar page: no HR read.
    EmployeeFactory(first_name="Mia", team=packing)
    assert client.get(f"/people/calendar/{make_ical_token(employee.pk)}.ics").status_code == 200
    assert client.get("/people/calendar/forged.ics").status_code == 404
    assert reads.count() == 2
    # Eli sees on his own page that Max's feed read his leave, and through which address.
    me = Client()
    me.force_login(employee)
    assert [e.summary for e in me.get("/people/me/").context["audit"]] == 2 * [
        "Fetched the leave calendar feed (1 person)"
    ]


def test_the_me_page_lists_what_automations_were_told_about_the_person(
    employee_client: Any, eli_employee: Any, annual: Any, packing: Any
) -> None:
    employee_client.post(
        "/people/leave/", {"leave_type": annual.pk, "start_date": "2026-06-01", "end_date": "2026-06-02"}
    )
    leave = LeaveRequest.objects.get()
    events = employee_client.get("/people/me/").context["events"]
    assert [(name, data) for _at, name, data in events] == [
        (
            "leave.requested",
            f"employee.first_name: Eli; employee.id: {eli_employee.pk}; leave.approval_levels: 2; "
            "leave.approver_email: max@example.com; leave.days: 2.0; leave.end_date: 2026-06-02; "
            f"leave.id: {leave.pk}; leave.start_date: 2026-06-01; leave.type: Annual leave",
        )
    ]


def test_the_onboarding_overview_and_an_opened_decision_link_are_audited_reads(
    hr: Any, hr_client: Any, manager: Any, client: Any, eli_employee: Any, employee: Any, annual: Any
) -> None:
    template = OnboardingTemplate.objects.create(name="Generic")
    OnboardingTaskTemplate.objects.create(template=template, title="Locker", owner="manager")
    services.launch_onboarding(employee=eli_employee, user=hr)
    assert hr_client.get("/people/onboarding/").status_code == 200
    leave = services.request_leave(
        employee=eli_employee,
        leave_type=annual,
        start_date=date(2026, 6, 1),
        end_date=date(2026, 6, 1),
        user=employee,
    )
    link = make_decision_token(
        request_id=leave.pk, approver_id=manager.pk, approve=True, nonce=leave.decision_nonce
    )
    assert client.get(f"/people/leave/link/{link}/").status_code == 200
    reads = AuditEvent.objects.filter(action="people.read").order_by("pk")
    assert [(e.actor_user, e.object_id, e.summary, e.changes) for e in reads] == [
        (hr, "", "Viewed the onboarding overview (1 person)", {"employees": [eli_employee.pk]}),
        (
            manager,
            str(eli_employee.pk),
            f"Opened the emailed decision link for leave request #{leave.pk} of Eli Example",
            {},
        ),
    ]


def test_hr_adjusts_a_balance_on_the_employees_page_and_the_employee_sees_it(
    hr: Any, hr_client: Any, manager_client: Any, employee_client: Any, eli_employee: Any, annual: Any
) -> None:
    url = f"/people/{eli_employee.pk}/adjust/"
    form = {
        "leave_type": annual.pk,
        "days": "3",
        "effective_date": "2026-01-01",
        "reason": "Carried from paper",
    }
    assert manager_client.post(url, form).status_code == 403
    refused = hr_client.post(url, {**form, "days": "0"})
    assert refused.status_code == 400
    assert dict(refused.context["adjust_form"].errors) == {"days": ["Zero days would change nothing."]}
    assert hr_client.post(url, form)["Location"] == f"/people/{eli_employee.pk}/"
    adjust = AuditEvent.objects.get(action="leave.adjust")
    assert (adjust.actor_user, adjust.summary, adjust.changes) == (
        hr,
        "Annual leave balance +3 days: Carried from paper",
        {"days": [None, "3"], "effective_date": [None, "2026-01-01"]},
    )
    row = employee_client.get("/people/leave/?year=2026").context["balances"][0]
    assert (row.balance.year, row.balance.used, row.balance.available) == (2026, -3, 28)
    me = employee_client.get("/people/me/")
    assert [(a.effective_date, a.days, a.reason) for a in me.context["adjustments"]] == [
        (date(2026, 1, 1), 3, "Carried from paper")
    ]
    assert "Annual leave 3 — Carried from paper" in me.content.decode()


def test_a_new_feed_address_retires_the_old_one_and_is_audited(
    manager: Any, manager_client: Any, client: Any, eli_employee: Any, annual: Any
) -> None:
    first = f"/people/calendar/{make_ical_token(manager.pk)}.ics"
    assert manager_client.get("/people/calendar/").context["ical_url"] == f"http://testserver{first}"
    assert client.get(first).status_code == 200
    assert manager_client.post("/people/calendar/new-address/")["Location"] == "/people/calendar/"
    second = manager_client.get("/people/calendar/").context["ical_url"].removeprefix("http://testserver")
    assert second != first
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    assert manager_client.post("/people/calendar/new-address/").status_code == 302
    assert client.get(second).status_code == 404
    renewed = AuditEvent.objects.filter(action="people.feed_address_renewed")
    assert [(e.actor_user, e.object_id, e.summary) for e in renewed] == 2 * [
        (manager, str(manager.pk), "Asked for a new leave feed address; the old one no longer works")
    ]


def test_what_waits_for_a_decision_costs_the_same_queries_for_many_requests(
    hr: Any, eli_employee: Any, other_team: Any, annual: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from heedful.people import queries

    def pending(employee: Any, day: int) -> LeaveRequest:
        leave = _leave(employee, annual, start=date(2026, 6, day))
        LeaveRequest.objects.filter(pk=leave.pk).update(status=LeaveStatus.PENDING)
        return leave

    cara = other_team.members.get()  # Care has no manager: HR decides
    pending(eli_employee, 1)  # Max, Eli's manager, decides
    first = [pending(cara, 2)]
    with CaptureQueriesContext(connection) as few:
        assert [r.pk for r in queries.awaiting_decision_by(hr)] == [r.pk for r in first]
    for day in range(3, 9):
        pending(eli_employee, day)
    more = [pending(cara, d) for d in range(9, 15)]
    with CaptureQueriesContext(connection) as many:
        assert sorted(r.pk for r in queries.awaiting_decision_by(hr)) == [r.pk for r in first + more]

    assert len(many.captured_queries) == len(few.captured_queries) == 2  # the requests; HR and owners


def test_the_team_leave_list_narrows_by_status_person_and_year_and_pages(
    hr_client: Any, eli_employee: Any, other_team: Any, annual: Any
) -> None:
    cara = other_team.members.get()
    for day in range(1, 28):
        _leave(eli_employee, annual, start=date(2025, 3, day))
    for day in range(1, 29):
        _leave(cara, annual, start=date(2026, 2, day))
    rejected = _leave(cara, annual, start=date(2026, 5, 4))
    LeaveRequest.objects.filter(pk=rejected.pk).update(status=LeaveStatus.REJECTED)

    everything = hr_client.get("/people/leave/team/")
    second = hr_client.get("/people/leave/team/", {"page": 2})
    eli_2025 = hr_client.get("/people/leave/team/", {"who": "eli", "year": "2025"})
    said_no = hr_client.get("/people/leave/team/", {"status": "rejected"})
    nonsense = hr_client.get("/people/leave/team/", {"status": "nope", "year": "20x6", "page": "-1"})

    assert everything.context["page"].paginator.count == 56
    assert [r.start_date for r in everything.context["requests"]][:2] == [date(2026, 5, 4), date(2026, 2, 28)]
    assert len(second.context["requests"]) == 6
    assert [r.start_date.day for r in eli_2025.context["requests"]] == list(range(27, 0, -1))
    assert [r.pk for r in said_no.context["requests"]] == [rejected.pk]
    assert everything.context["years"] == [2026, 2025]
    assert nonsense.status_code == 200
    assert nonsense.context["page"].paginator.count == 56
    html = everything.content.decode()
    assert "56 requests" in html
    assert 'href="?page=2"' in html


def test_my_leave_is_in_the_menu_only_for_people_on_the_staff_list(
    packing: Any, eli_employee: Any, owner_client: Any, manager_client: Any, employee_client: Any
) -> None:
    # Max (the manager) and Eli are on the staff list when they sign in; the owner is not.
    link = 'href="/people/leave/"'

    assert link not in owner_client.get("/").content.decode()
    assert link in manager_client.get("/").content.decode()
    assert link in employee_client.get("/").content.decode()


def test_a_session_from_before_the_menu_knew_shows_my_leave_as_it_did(owner_client: Any) -> None:
    from heedful.accounts.context_processors import EMPLOYEE_RECORD

    session = owner_client.session
    del session[EMPLOYEE_RECORD]
    session.save()

    assert 'href="/people/leave/"' in owner_client.get("/").content.decode()
