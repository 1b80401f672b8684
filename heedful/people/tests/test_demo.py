from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.people import queries
from heedful.people.demo import load_people_demo
from heedful.people.models import Employee, LeaveRequest, LeaveStatus, Onboarding, Team
from heedful.surveys.models import SurveyRound
from heedful.surveys.queries import early_flags, round_results
from heedful.workflows.models import Event

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 4, 9, tzinfo=__import__("zoneinfo").ZoneInfo("UTC"))


@pytest.fixture
def lead_demo_teams() -> None:
    """What heedful.demo builds before calling us: two teams of four, Sofia and Jakob with accounts."""
    sofia = UserFactory(email="sofia@demo.heedful.local", role=Role.MANAGER)
    jakob = UserFactory(email="jakob@demo.heedful.local", role=Role.AGENT)
    for name, members in {
        "Shop & Packing": ["Lena", "Marco", "Aisha", "Tom"],
        "Online & Care": ["Sofia", "Jakob", "Nina", "Ole"],
    }.items():
        team = Team.objects.create(name=name)
        for i, first in enumerate(members):
            user = {"Sofia": sofia, "Jakob": jakob}.get(first)
            e = Employee.objects.create(
                first_name=first,
                email=f"{first.lower()}@demo.heedful.local",
                team=team,
                user=user,
                start_date=date(2021, 3, 1) + timedelta(days=97 * i),
                region="DE-BE",
            )
            if i == 0:
                team.manager = e
                team.save(update_fields=["manager"])


def test_the_demo_shows_every_part_of_the_issue(
    lead_demo_teams: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert load_people_demo(NOW).startswith("people demo loaded")
    assert load_people_demo(NOW) == "people demo already loaded"
    approved = LeaveRequest.objects.get(status=LeaveStatus.APPROVED)
    assert list(approved.decisions.values_list("step_kind", "via")) == [("manager", "email"), ("hr", "email")]
    jakob = approved.employee
    balance = queries.balances_of(jakob, approved.start_date)[0].balance
    assert balance.used == approved.days + 1  # and the one waiting for Sofia
    assert Onboarding.objects.get().tasks.count() == 8
    latest = SurveyRound.objects.order_by("-opens_on").first()
    results = round_results(latest, NOW.date())
    assert results.group("company").respondents == 11
    lab = Team.objects.get(name="Tea Lab")
    assert lab.members.count() == 3
    assert lab.manager.first_name == "Yara"
    reasons = {w.key: w.reason for w in results.withheld}
    assert reasons[f"team:{lab.pk}"] == (
        "Fewer than 5 people answered, so it is not shown on its own. Its answers count in The whole company."
    )
    # The second round's mood is lower on purpose: the early flags the daily brief shows.
    assert [f.text for f in early_flags(latest.survey, NOW.date())] == [
        "The whole company: employee NPS fell 119 points in 4 weeks (55.0 → -64.0).",
        "The whole company: workload fell 30 % in 4 weeks (4.0 → 2.82).",
        "More than 3 years: employee NPS fell 119 points in 4 weeks (55.0 → -64.0).",
        "More than 3 years: workload fell 30 % in 4 weeks (4.0 → 2.82).",
    ]
    # The Tea Lab's three have worked there for years: recorded, not hired (no welcome).
    hired = Event.objects.filter(name="employee.hired").order_by("pk")
    assert [e.payload["employee"]["first_name"] for e in hired] == ["Greta"]


def test_the_demo_loads_when_a_request_would_land_on_a_holiday(lead_demo_teams: Any) -> None:
    """Its requests fall 14 and 35 days ahead: on 27 November the second one hit New Year's Day."""
    day = date(2026, 11, 27)
    assert load_people_demo(datetime(day.year, day.month, day.day, 9, tzinfo=NOW.tzinfo)).startswith(
        "people demo loaded"
    )
    later = LeaveRequest.objects.get(status=LeaveStatus.PENDING)
    assert (later.start_date, later.days) == (date(2027, 1, 4), 1)
