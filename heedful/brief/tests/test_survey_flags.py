"""The daily brief shows the surveys' early flags, only for groups the results page shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from heedful.people.tests.factories import EmployeeFactory, TeamFactory
from heedful.surveys import services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def _two_rounds(owner: Any, care_size: int) -> None:
    """Shop (6 people) goes from 5 to 4, Care from 5 to 1, four weeks apart; both rounds closed."""
    today = timezone.localdate()
    shop, care = TeamFactory(name="Shop"), TeamFactory(name="Care")
    people = [(EmployeeFactory(team=shop), 4) for _ in range(6)]
    people += [(EmployeeFactory(team=care), 1) for _ in range(care_size)]
    survey = services.create_survey(title="Pulse", question_codes=["eng_energy"], user=owner)
    for opens, later in ((today - timedelta(days=37), False), (today - timedelta(days=9), True)):
        survey_round = services.open_round(survey=survey, today=opens, user=owner)
        for person, value in people:
            services.submit_response(
                survey_round=survey_round,
                employee=person,
                answers={"eng_energy": value if later else 5},
                today=opens,
            )


def _flags(client: Any) -> list[str]:
    return [flag.text for flag in client.get("/").context["survey_flags"]]


def test_a_team_under_k_never_shows_in_the_brief_nor_one_withheld_to_protect_it(
    owner: Any, owner_client: Any
) -> None:
    _two_rounds(owner, care_size=3)
    assert _flags(owner_client) == [
        "The whole company: engagement fell 40 % in 4 weeks (5.0 → 3.0).",
        "More than 3 years: engagement fell 40 % in 4 weeks (5.0 → 3.0).",
    ]
    html = owner_client.get("/").content.decode()
    # Care (3 people) fell 80 %; Shop fell 20 % but 9 − 6 would give Care away: neither is named.
    assert "Care" not in html
    assert "Shop" not in html


def test_teams_of_at_least_k_show_their_drop_with_a_next_step(owner: Any, owner_client: Any) -> None:
    _two_rounds(owner, care_size=5)
    assert _flags(owner_client) == [
        "The whole company: engagement fell 47 % in 4 weeks (5.0 → 2.64).",
        "Care: engagement fell 80 % in 4 weeks (5.0 → 1.0).",
        "Shop: engagement fell 20 % in 4 weeks (5.0 → 4.0).",
        "More than 3 years: engagement fell 47 % in 4 weeks (5.0 → 2.64).",
    ]
    assert "Next step: read the group's comments" in owner_client.get("/").content.decode()


def test_the_flags_are_for_those_who_look_after_teams(
    owner: Any, manager_client: Any, hr_client: Any, employee_client: Any, agent_client: Any
) -> None:
    _two_rounds(owner, care_size=5)
    assert len(_flags(manager_client)) == len(_flags(hr_client)) == 4
    for client in (employee_client, agent_client):
        response = client.get("/")
        assert response.context["survey_flags"] is None
        assert 'id="survey-flags"' not in response.content.decode()
