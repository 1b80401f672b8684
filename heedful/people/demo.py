"""Demo data for people and surveys, on top of the lead's demo teams (``heedful.demo``).

``load_people_demo(now)`` is idempotent: a second call finds the annual-leave type and stops.
It goes through the real services, so the audit log, the approval emails and the anonymity
rule are exactly what a live installation would produce.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from heedful.accounts.models import User
from heedful.accounts.roles import Role
from heedful.people import services
from heedful.people.links import make_decision_token
from heedful.people.models import (
    Employee,
    LeaveType,
    OnboardingTaskTemplate,
    OnboardingTemplate,
    PublicHoliday,
    Team,
)
from heedful.surveys import instruments
from heedful.surveys import services as surveys
from heedful.surveys.models import Survey, SurveyRound

ANNUAL = "Annual leave"
# Berlin's public holidays (fixed list: the demo must not need the internet).
DE_BE = {
    2026: [
        ("01-01", "New Year's Day"), ("03-08", "International Women's Day"), ("04-03", "Good Friday"),
        ("04-06", "Easter Monday"), ("05-01", "Labour Day"), ("05-14", "Ascension Day"),
        ("05-25", "Whit Monday"), ("10-03", "Day of German Unity"), ("12-25", "Christmas Day"),
        ("12-26", "Boxing Day"),
    ],
    2027: [
        ("01-01", "New Year's Day"), ("03-08", "International Women's Day"), ("03-26", "Good Friday"),
        ("03-29", "Easter Monday"), ("05-01", "Labour Day"), ("05-06", "Ascension Day"),
        ("05-17", "Whit Monday"), ("10-03", "Day of German Unity"), ("12-25", "Christmas Day"),
        ("12-26", "Boxing Day"),
    ],
}  # fmt: skip
COMMENTS = [
    "Packing gets hectic before holidays; more hands in December would help.",
    "I like how the team helps each other out.",
    "The new shop system is slow and it makes customers wait.",
    "Thanks for the flexible hours this month.",
    "I'd like clearer priorities when everything is urgent.",
    "",
    "",
]


def _next_workday(day: date) -> date:
    """The first day from ``day`` that is neither a weekend nor a Berlin public holiday (a demo
    loaded on 27 November once asked for leave on New Year's Day, which costs nothing)."""
    holidays = {date.fromisoformat(f"{year}-{md}") for year, days in DE_BE.items() for md, _name in days}
    while day.weekday() >= 5 or day in holidays:
        day += timedelta(days=1)
    return day


@transaction.atomic
def load_people_demo(now: datetime | None = None) -> str:
    """Leave types and holidays, a two-level approval done by email link, the three-person Tea
    Lab, a running onboarding and a pulse survey answered by the demo employees. Call after the
    lead's teams exist."""
    if LeaveType.objects.filter(name=ANNUAL).exists():
        return "people demo already loaded"
    today = timezone.localdate(now or timezone.now())
    rng = random.Random(11)  # noqa: S311 - demo content, not security
    hr = _hr_user()
    annual = LeaveType.objects.create(
        name=ANNUAL, accrual_days=Decimal(28), carry_over_cap=Decimal(5), approval_steps=["manager", "hr"]
    )
    LeaveType.objects.create(name="Sick leave", allow_negative=True, approval_steps=[])
    LeaveType.objects.create(
        name="Special leave", accrual_days=Decimal(3), accrual_period="month", carry_over_cap=Decimal(0),
        approval_steps=["manager"],
    )  # fmt: skip
    PublicHoliday.objects.bulk_create(
        PublicHoliday(region="DE-BE", date=date.fromisoformat(f"{year}-{md}"), name=name)
        for year, days in DE_BE.items()
        for md, name in days
    )
    leave_note = _leave_by_email_links(annual, today)
    _tea_lab(hr, today)
    onboarding_note = _onboarding(hr, today)
    survey_note = _pulse_survey(hr, today, rng)
    return f"people demo loaded: {leave_note}; {onboarding_note}; {survey_note}"


def _hr_user() -> User:
    email = "hana@demo.heedful.local"
    defaults = {"username": email, "first_name": "Hana", "role": Role.HR}
    user, created = User.objects.get_or_create(email=email, defaults=defaults)
    if created:
        user.set_unusable_password()  # the owner invites her for real
        user.save(update_fields=["password"])
    return user


def _leave_by_email_links(annual: LeaveType, today: date) -> str:
    """Jakob's leave goes through Sofia (manager) and Hana (HR) by the links their emails carry."""
    jakob = Employee.objects.filter(user__email="jakob@demo.heedful.local").first()
    if jakob is None:
        return "no leave (the lead's demo staff are missing)"
    start = _next_workday(today + timedelta(days=14))
    leave = services.request_leave(
        employee=jakob, leave_type=annual, start_date=start, end_date=start + timedelta(days=4),
        end_half=True, note="Family visit", user=jakob.user,  # type: ignore[arg-type]
    )  # fmt: skip
    for _level in range(2):
        leave.refresh_from_db()
        approver = services.queries.approvers_for(leave, leave.step_kind)[0]
        token = make_decision_token(
            request_id=leave.pk, approver_id=approver.pk, approve=True, nonce=leave.decision_nonce
        )
        services.decide_leave_by_link(token, comment="Enjoy!")
    # A second request waits for Sofia: the email with its links is in the outbox.
    later = _next_workday(today + timedelta(days=35))
    services.request_leave(
        employee=jakob,
        leave_type=annual,
        start_date=later,
        end_date=later,
        user=jakob.user,  # type: ignore[arg-type]
    )
    return f"{jakob}'s leave approved at two levels by email link"


# Three people: too few for a team report of their own, so their survey answers only count in
# the company figures, and the results page says so.
TEA_LAB = [
    ("Yara", "Haddad", "Head blender", date(2019, 4, 1)),
    ("Paul", "Richter", "Tea taster", date(2020, 9, 14)),
    ("Mei", "Lin", "Quality control", date(2022, 2, 1)),
]


def _tea_lab(hr: User, today: date) -> None:
    lab = Team.objects.create(name="Tea Lab")
    for first, last, title, start in TEA_LAB:
        person = services.hire_employee(
            first_name=first, last_name=last, email=f"{first.lower()}@demo.heedful.local", job_title=title,
            team=lab, start_date=start, region="DE-BE", user=hr, today=today,
        )  # fmt: skip
        if lab.manager_id is None:
            lab.manager = person
            lab.save(update_fields=["manager"])


def _onboarding(hr: User, today: date) -> str:
    shop = Team.objects.filter(name="Shop & Packing").first()
    template = OnboardingTemplate.objects.create(name="Shop & Packing starter", team=shop)
    tasks = [
        ("Send the welcome email with the first-day plan", "hr", -7),
        ("Create the shop system account and a locker code", "it", -3),
        ("Prepare safety shoes and a workstation", "manager", -1),
        ("Walk through the packing station and safety guide", "manager", 0),
        ("Read the returns and breakage policy", "new_hire", 2),
        ("Pack ten orders with a buddy", "new_hire", 3),
        ("First-week check-in", "manager", 5),
        ("30-day conversation", "hr", 30),
    ]
    OnboardingTaskTemplate.objects.bulk_create(
        OnboardingTaskTemplate(template=template, title=t, owner=o, due_offset_days=d) for t, o, d in tasks
    )
    greta = services.hire_employee(
        first_name="Greta", last_name="Lind", email="greta@demo.heedful.local", job_title="Packer",
        team=shop, start_date=today + timedelta(days=3), region="DE-BE", user=hr, today=today,
    )  # fmt: skip
    onboarding = services.launch_onboarding(employee=greta, user=hr, template=template)
    first = onboarding.tasks.order_by("due_date").first()
    if first is not None:
        services.complete_onboarding_task(task=first, user=hr)
    return f"onboarding of {greta} running ({onboarding.tasks.count()} tasks, reminders daily)"


def _pulse_survey(hr: User, today: date, rng: random.Random) -> str:
    """Two closed rounds, four weeks apart, answered by everyone who has started. The company
    figures show; every team is under five people (the Tea Lab has three), so each is withheld
    with the reason, and the mood drop between the rounds raises an early flag."""
    survey = surveys.create_survey(
        title="Monthly pulse", question_codes=instruments.PULSE + instruments.CULTURE_CHECK[:-1], user=hr,
        recurrence="monthly",
    )  # fmt: skip
    people = list(Employee.objects.filter(is_active=True, start_date__lte=today - timedelta(days=60)))
    for weeks_ago, mood in ((6, 4), (2, 3)):
        opens = today - timedelta(weeks=weeks_ago)
        survey_round = SurveyRound.objects.create(
            survey=survey, number=SurveyRound.objects.filter(survey=survey).count() + 1,
            opens_on=opens, closes_on=opens + timedelta(days=6),
        )  # fmt: skip
        for person in people:
            answers: dict[str, int | str | None] = {
                code: max(q.low, min(q.high, (mood if q.high == 5 else mood + 2) + rng.choice([-1, 0, 0, 1])))
                for code, q in instruments.QUESTIONS.items()
                if code in survey.question_codes and not q.free_text and code != "enps"
            }
            answers["enps"] = rng.choice([9, 10, 8, 7] if mood == 4 else [5, 7, 8, 9, 6])
            answers["comment"] = rng.choice(COMMENTS)
            surveys.submit_response(survey_round=survey_round, employee=person, answers=answers, today=opens)
    Survey.objects.filter(pk=survey.pk).update(next_round_on=today + timedelta(days=14))
    return f"pulse survey answered by {len(people)} employees, twice"
