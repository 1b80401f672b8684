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
from heedful.surveys.queries import round_results

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
    assert results.group("company").respondents == 7
    care = Team.objects.get(name="Online & Care")
    reasons = {w.key: w.reason for w in results.withheld}
    assert reasons[f"team:{care.pk}"].startswith("Fewer than 5 people answered")
