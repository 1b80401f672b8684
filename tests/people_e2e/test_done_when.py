"""Issue 6's "Done when", walked as people would, on the real demo.

* a new hire's onboarding runs with reminders (the beat task, a real SMTP server receiving it);
* a leave request made in the browser goes through two levels of approval by the links in the
  approvers' email, then shows on the team calendar and in the iCal feed, and the balance the
  employee sees drops by exactly the requested days;
* the pulse survey is answered by the demo employees on the answer pages, and the results page
  shows the company's figures while the three-person Tea Lab is withheld with the reason;
* HR's home page (the daily brief's place) shows the pulse's early flags, never the Tea Lab.
"""

from __future__ import annotations

import re
import urllib.request
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from heedful.accounts.models import User
from heedful.accounts.roles import Role
from heedful.people.models import (
    Employee,
    LeaveRequest,
    LeaveStatus,
    LeaveType,
    Onboarding,
    PublicHoliday,
    Team,
)
from heedful.people.tasks import send_onboarding_reminders_task
from heedful.surveys.models import Response, Survey, SurveyRound
from heedful.workflows.models import Event
from tests.people_e2e.conftest import Mail, mails

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-demo-passphrase"


def _sign_in(page: Any, base: str, email: str) -> None:
    user = User.objects.get(email=email)
    user.set_password(PASSWORD)  # what accepting the owner's invitation does
    user.save(update_fields=["password"])
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _only(found: list[Mail], to: str, subject: str) -> Mail:
    matching = [m for m in found if m.to == [to] and m.subject == subject]
    assert len(matching) == 1, [(m.to, m.subject) for m in found]
    return matching[0]


# --- (a) onboarding with reminders --------------------------------------------------------


def test_the_new_hires_onboarding_sends_a_reminder_for_the_task_due_today(
    demo: str, smtp_server: Any
) -> None:
    today = timezone.localdate()
    onboarding = Onboarding.objects.get(employee__email="greta@demo.heedful.local")
    assert onboarding.employee.start_date == today + timedelta(days=3)
    tasks = [(t.title, t.owner, t.due_date, t.done_at is None) for t in onboarding.tasks.all()]
    start = onboarding.employee.start_date
    assert tasks == [
        ("Send the welcome email with the first-day plan", "hr", start - timedelta(days=7), False),
        ("Create the shop system account and a locker code", "it", start - timedelta(days=3), True),
        ("Prepare safety shoes and a workstation", "manager", start - timedelta(days=1), True),
        ("Walk through the packing station and safety guide", "manager", start, True),
        ("Read the returns and breakage policy", "new_hire", start + timedelta(days=2), True),
        ("Pack ten orders with a buddy", "new_hire", start + timedelta(days=3), True),
        ("First-week check-in", "manager", start + timedelta(days=5), True),
        ("30-day conversation", "hr", start + timedelta(days=30), True),
    ]

    # What beat runs every morning, through Celery.
    assert send_onboarding_reminders_task.delay().get() == 1
    [reminder] = mails(smtp_server)
    assert reminder.to == ["hana@demo.heedful.local"]  # IT has no one of its own: HR does it
    assert (
        reminder.subject
        == "Onboarding of Greta Lind: “Create the shop system account and a locker code” is due"
    )
    checklist = f"{demo_url()}/people/onboarding/{onboarding.pk}/"
    assert reminder.body == (
        "“Create the shop system account and a locker code” for Greta Lind's onboarding "
        f"is due on {today}.\n\n"
        f"Checklist: {checklist}\n"
    )
    # Beat running again the same day sends nothing more.
    assert send_onboarding_reminders_task.delay().get() == 0
    assert len(smtp_server.received) == 1

    # The link in the reminder opens the checklist for Hana, with its progress.
    hana = Client()
    hana.force_login(User.objects.get(email="hana@demo.heedful.local"))
    page = hana.get(checklist.removeprefix(demo_url()))
    assert page.status_code == 200
    assert (page.context["done"], page.context["total"], page.context["percent"]) == (1, 8, 12)


def demo_url() -> str:
    from django.conf import settings

    return str(settings.SITE_URL)


# --- (b) leave through two levels of approval by email link ---------------------------------


def _free_week(jakob: Employee) -> date:
    """A Monday at least six weeks ahead whose Monday–Wednesday are working days in Berlin, in
    one month, and clear of Jakob's other leave."""
    day = timezone.localdate() + timedelta(days=42)
    day += timedelta(days=(7 - day.weekday()) % 7)
    holidays = set(PublicHoliday.objects.filter(region="DE-BE").values_list("date", flat=True))
    while (
        {day, day + timedelta(days=1), day + timedelta(days=2)} & holidays
        or day.month != (day + timedelta(days=2)).month
        or LeaveRequest.objects.filter(
            employee=jakob, end_date__gte=day, start_date__lte=day + timedelta(days=2)
        ).exists()
    ):
        day += timedelta(days=7)
    return day


def _balance(page: Any, base: str, year: int, leave_type: LeaveType) -> tuple[Decimal, Decimal]:
    """(available, booked) as the employee's leave page shows them for ``year``."""
    page.goto(f"{base}/people/leave/?year={year}")
    card = page.locator(f"#balance-{leave_type.pk}")
    available = Decimal(card.locator(".count").inner_text())
    booked = re.search(r"− ([\d.]+) booked", card.inner_text())
    assert booked is not None, card.inner_text()
    return available, Decimal(booked.group(1))


def _decide_by_link(browser: Any, link: str) -> str:
    """An approver opens the link from their email, not signed in, and presses the one button;
    returns what the page then says."""
    context = browser.new_context()
    try:
        approver = context.new_page()
        approver.goto(link)
        approver.get_by_label("Comment (optional)").fill("Enjoy!")
        approver.get_by_role("button", name="Approve").click()
        return str(approver.locator("[role=status], [role=alert]").inner_text())
    finally:
        context.close()


def _approve_link(message: Mail) -> str:
    found = re.search(r"^Approve: (\S+)$", message.body, re.MULTILINE)
    assert found is not None, message.body
    return found.group(1)


def test_leave_requested_in_the_browser_is_approved_at_two_levels_by_email_link(
    demo: str, smtp_server: Any, browser: Any, page: Any, live_server: Any
) -> None:
    base = live_server.url
    annual = LeaveType.objects.get(name="Annual leave")
    assert annual.approval_steps == ["manager", "hr"]
    jakob = Employee.objects.get(email="jakob@demo.heedful.local")
    first = _free_week(jakob)
    last = first + timedelta(days=2)
    _sign_in(page, base, "jakob@demo.heedful.local")
    available_before, booked_before = _balance(page, base, first.year, annual)

    page.goto(f"{base}/people/leave/?year={first.year}")
    page.get_by_label("Type").select_option(label="Annual leave")
    page.get_by_label("First day", exact=True).fill(first.isoformat())
    page.get_by_label("Last day", exact=True).fill(last.isoformat())
    page.get_by_label("Last day is a half day (until midday)").check()
    page.get_by_label("Note for the approver").fill("School holidays")
    page.get_by_role("button", name="Send request").click()
    page.wait_for_url(re.compile(r"/people/leave/\d+/$"))
    leave = LeaveRequest.objects.get(employee=jakob, start_date=first)
    assert (leave.days, leave.status, leave.current_step) == (Decimal("2.5"), LeaveStatus.PENDING, 0)
    assert page.url == f"{base}/people/leave/{leave.pk}/"

    # Level 1: Sofia, who manages Online & Care, gets the email and follows its Approve link.
    to_sofia = _only(
        mails(smtp_server), "sofia@demo.heedful.local", "Leave request from Jakob Horn needs your decision"
    )
    assert f"Jakob Horn: Annual leave, {first} to {last} (last day half), 2.5 working days\n" in to_sofia.body
    assert "Note: School holidays\n" in to_sofia.body
    assert "Approval level 1 of 2 (manager)." in to_sofia.body
    assert (
        _decide_by_link(browser, _approve_link(to_sofia))
        == "Thank you. The request is now: waiting for approval."
    )

    # Level 2: Hana (HR) gets hers only now, and follows it.
    to_hana = _only(
        mails(smtp_server), "hana@demo.heedful.local", "Leave request from Jakob Horn needs your decision"
    )
    assert "Approval level 2 of 2 (hr)." in to_hana.body
    assert _decide_by_link(browser, _approve_link(to_hana)) == "Thank you. The request is now: approved."

    leave.refresh_from_db()
    assert leave.status == LeaveStatus.APPROVED
    assert list(leave.decisions.values_list("step_kind", "via", "decided_by__email", "comment")) == [
        ("manager", "email", "sofia@demo.heedful.local", "Enjoy!"),
        ("hr", "email", "hana@demo.heedful.local", "Enjoy!"),
    ]
    told = _only(mails(smtp_server), "jakob@demo.heedful.local", "Your leave request was approved")
    assert told.body.startswith(
        f"Jakob Horn: Annual leave, {first} to {last} (last day half), 2.5 working days\n"
    )
    # Sofia's link worked once: opening it again says so in words, with no button to press.
    context = browser.new_context()
    spent = context.new_page()
    spent.goto(_approve_link(to_sofia))
    assert spent.get_by_role("alert").inner_text() == "This request is already approved."
    assert spent.get_by_role("button", name="Approve").count() == 0
    context.close()
    assert leave.decisions.count() == 2
    assert Event.objects.filter(name="leave.requested", payload__leave__id=leave.pk).count() == 1

    # The team calendar shows Jakob away on exactly those three days, approved.
    page.goto(f"{base}/people/calendar/?month={first:%Y-%m}")
    for offset in range(-1, 4):
        day = first + timedelta(days=offset)
        badges = page.locator(f'td[data-day="{day.isoformat()}"] .badge.ok', has_text="Jakob")
        assert badges.count() == (1 if 0 <= offset <= 2 else 0), day

    # … and so does the private iCal feed whose address the page shows.
    feed_url = page.locator("code").inner_text()
    with urllib.request.urlopen(feed_url) as feed:
        assert feed.headers["Content-Type"] == "text/calendar; charset=utf-8"
        ics = feed.read().decode()
    event = re.search(rf"BEGIN:VEVENT\r\nUID:leave-{leave.pk}@heedful\r\n(.*?)END:VEVENT\r\n", ics, re.DOTALL)
    assert event is not None, ics
    lines = [line for line in event.group(1).split("\r\n") if line and not line.startswith("DTSTAMP:")]
    assert lines == [
        f"DTSTART;VALUE=DATE:{first:%Y%m%d}",
        f"DTEND;VALUE=DATE:{last + timedelta(days=1):%Y%m%d}",
        "SUMMARY:Jakob Horn: away",
        "TRANSP:TRANSPARENT",
    ]

    # The balance Jakob sees for that year is down by exactly the 2.5 days.
    available_after, booked_after = _balance(page, base, first.year, annual)
    assert available_after == available_before - Decimal("2.5")
    assert booked_after == booked_before + Decimal("2.5")


# --- (c) the pulse survey, answered on the answer pages ------------------------------------

# Eleven people who have started answer; the figures below follow from these by hand.
ENPS = [10, 10, 9, 9, 9, 8, 8, 7, 6, 4, 2]  # 5 promoters, 3 detractors: (5 − 3) / 11 → 18
MANAGEABLE = [2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3]  # 27 / 11 → 2.45


COMMENTS = {
    0: "Too many rush orders before the holidays.",
    4: "The new packing tables are great.",
    8: "I would like clearer priorities on busy days.",
}


def _answers(i: int) -> dict[str, str]:
    answers = {
        "enps": str(ENPS[i]),
        "eng_energy": "4",
        "well_energy": "3",
        "well_stress": "4",  # reversed: scores 2, so wellbeing is (3 + 2) / 2 = 2.5
        "work_manageable": str(MANAGEABLE[i]),
        "comment": COMMENTS.get(i, ""),
    }
    for item in range(1, 8):
        answers[f"ps_{item}"] = "2" if item in (1, 3, 5) else "6"  # reversed items score 6 too
    return answers


def test_the_pulse_is_answered_by_the_demo_staff_and_the_tea_lab_is_withheld_with_the_reason(
    demo: str, smtp_server: Any, page: Any, live_server: Any
) -> None:
    base = live_server.url
    survey = Survey.objects.get(title="Monthly pulse")
    hana = Client()
    hana.force_login(User.objects.get(email="hana@demo.heedful.local"))
    assert hana.post(f"/surveys/{survey.pk}/rounds/open/").status_code == 302
    survey_round = SurveyRound.objects.get(survey=survey, number=3)
    invitations = {
        m.to[0]: m for m in mails(smtp_server) if m.subject == "Monthly pulse: two minutes, anonymous"
    }
    staff = list(Employee.objects.filter(is_active=True).order_by("pk"))
    started = [e for e in staff if e.start_date <= timezone.localdate()]
    assert len(started) == 11
    # Everyone who has started is invited; Greta, who starts in three days, is not asked yet.
    assert sorted(invitations) == sorted(e.email for e in started)
    assert "greta@demo.heedful.local" not in {m.to[0] for m in mails(smtp_server)}
    for i, person in enumerate(started):
        # The owner invites those without an account; their first sign-in links it to their record.
        user = person.user or User.objects.create_user(
            username=person.email, email=person.email, first_name=person.first_name, role=Role.EMPLOYEE
        )
        client = Client()
        client.force_login(user)
        link = re.search(r"^Answer: (\S+)$", invitations[person.email].body, re.MULTILINE)
        assert link is not None
        path = link.group(1).removeprefix(base)
        assert path == f"/surveys/rounds/{survey_round.pk}/answer/"
        form = client.get(path)
        assert "I feel energised by my work." in form.content.decode()
        assert client.post(path, _answers(i)).status_code == 302
    assert Response.objects.filter(round=survey_round).count() == 11
    assert not Employee.objects.filter(pk__in=[e.pk for e in started], user__isnull=True).exists()
    answered = Event.objects.filter(name="survey.answered", payload__round__id=survey_round.pk)
    assert [e.payload for e in answered] == [
        {"survey": {"id": survey.pk, "title": "Monthly pulse"}, "round": {"id": survey_round.pk, "number": 3}}
    ] * 11

    # A week passes and the round closes: results exist only for closed rounds.
    today = timezone.localdate()
    SurveyRound.objects.filter(pk=survey_round.pk).update(
        opens_on=today - timedelta(days=7), closes_on=today - timedelta(days=1)
    )

    # Everyone sees the same results; Jakob, who manages nobody, looks.
    _sign_in(page, base, "jakob@demo.heedful.local")
    page.goto(f"{base}/surveys/rounds/{survey_round.pk}/results/")
    company = page.locator("section#company")
    assert company.locator("h2").inner_text() == "The whole company (11 answers)"
    scores = {
        card.locator("h3").inner_text(): card.locator(".count").inner_text()
        for card in company.locator(".cards .card").all()
    }
    assert scores == {
        "Employee NPS": "18.0",
        "Engagement": "4.0",
        "Psychological safety (culture check)": "6.0",
        "Wellbeing": "2.5",
        "Workload": "2.45",
    }
    assert company.get_by_text("People feel safe to speak up, admit mistakes and ask for help").count() == 1
    assert company.locator("ul li").count() == 3  # three comments, shown because 11 ≥ 5
    lab = Team.objects.get(name="Tea Lab")
    assert lab.members.count() == 3
    assert page.locator(f'li[id="withheld-team:{lab.pk}"]').inner_text() == (
        "Tea Lab: Fewer than 5 people answered, so it is not shown on its own. "
        "Its answers count in The whole company."
    )
    assert page.locator(f'section[id="team:{lab.pk}"]').count() == 0
    shown = page.locator("section.card").evaluate_all("els => els.map(e => e.id)")
    assert shown == ["company", "tenure:3y+"]  # everyone has been here more than three years


# --- (d) the daily brief shows the pulse's early flags, never a group under k ----------------


def test_the_brief_shows_the_demos_mood_drop_to_hr_and_never_the_tea_lab(
    demo: str, page: Any, live_server: Any
) -> None:
    """The demo's second pulse round is lower on purpose; the Tea Lab (3 people) is never named."""
    base = live_server.url
    _sign_in(page, base, "hana@demo.heedful.local")
    flags = page.locator("#survey-flags p.message")
    assert flags.evaluate_all("els => els.map(e => e.firstChild.textContent.trim())") == [
        "The whole company: employee NPS fell 119 points in 4 weeks (55.0 → -64.0).",
        "The whole company: workload fell 30 % in 4 weeks (4.0 → 2.82).",
        "More than 3 years: employee NPS fell 119 points in 4 weeks (55.0 → -64.0).",
        "More than 3 years: workload fell 30 % in 4 weeks (4.0 → 2.82).",
    ]
    assert flags.first.get_by_role("link").inner_text() == "Monthly pulse"
    assert "Tea Lab" not in page.locator("#survey-flags").inner_text()
