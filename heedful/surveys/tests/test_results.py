"""Through the ORM, the pages and the API: answers stay anonymous and small groups stay hidden."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection

from heedful.people.tests.factories import EmployeeFactory, TeamFactory
from heedful.surveys import instruments, queries, services
from heedful.surveys.models import Participation, Response, Survey, SurveyRound

pytestmark = pytest.mark.django_db

OPEN, CLOSED_AFTER = date(2026, 3, 2), date(2026, 3, 20)


def _org_and_answers(owner: Any, employee: Any) -> tuple[SurveyRound, Any]:
    """Shop: 6 people, Care: 3 people (Eli among them). Everyone answers."""
    shop, care = TeamFactory(name="Shop"), TeamFactory(name="Care")
    people = [EmployeeFactory(team=shop) for _ in range(6)] + [EmployeeFactory(team=care) for _ in range(2)]
    people.append(EmployeeFactory(team=care, user=employee, email=employee.email))
    survey = services.create_survey(title="Pulse", question_codes=instruments.PULSE, user=owner)
    survey_round = services.open_round(survey=survey, today=OPEN, user=owner)
    for i, person in enumerate(people):
        services.submit_response(
            survey_round=survey_round,
            employee=person,
            answers={"enps": 10 if i < 4 else 5, "eng_energy": 4, "comment": f"comment {i}"},
            today=OPEN,
        )
    return survey_round, care


def test_nothing_stored_with_an_answer_points_to_a_person(owner: Any, employee: Any) -> None:
    _org_and_answers(owner, employee)
    response_fields = {f.name for f in Response._meta.get_fields()}
    assert response_fields == {"id", "round", "team", "tenure_band", "answers"}
    assert {f.name for f in Participation._meta.get_fields()} == {"id", "round", "employee"}
    with connection.cursor() as cursor:
        columns = [c.name for c in connection.introspection.get_table_description(cursor, "surveys_answer")]
    assert sorted(columns) == ["id", "question", "response_id", "text", "value"]


def test_answering_twice_is_refused_and_stores_nothing_more(owner: Any, employee: Any) -> None:
    survey_round, _care = _org_and_answers(owner, employee)
    eli = survey_round.participations.get(employee__user=employee).employee
    with pytest.raises(services.SurveyError, match="already answered"):
        services.submit_response(survey_round=survey_round, employee=eli, answers={"enps": 1}, today=OPEN)
    assert Response.objects.count() == 9


def test_company_figures_show_while_a_three_person_team_is_withheld_with_the_reason(
    owner: Any, employee: Any
) -> None:
    survey_round, care = _org_and_answers(owner, employee)
    results = queries.round_results(survey_round, CLOSED_AFTER)
    company = results.group("company")
    assert company is not None
    assert company.respondents == 9
    assert {s.instrument: s.value for s in company.scores} == {"engagement": 4.0, "enps": -11.0}
    assert len(company.comments) == 9
    assert company.analysis.note.startswith("not analysed: ") or company.analysis.themes is not None
    withheld = {w.key: w.reason for w in results.withheld}
    assert withheld[f"team:{care.pk}"].startswith("Fewer than 5 people answered")
    # Shop (6) would give away Care (9 − 6 = 3) by subtraction, so it is withheld too.
    shop_key = next(k for k in withheld if k.startswith("team:") and k != f"team:{care.pk}")
    assert withheld[shop_key].startswith("Withheld although it has enough answers")
    # Everyone started in 2020: the tenure band is the company itself and reveals nothing more.
    assert [g.key for g in results.shown] == ["company", "tenure:3y+"]


def test_an_open_round_shows_no_figures(owner: Any, employee: Any) -> None:
    survey_round, _ = _org_and_answers(owner, employee)
    assert queries.round_results(survey_round, OPEN).shown == []


def test_employees_see_the_same_aggregate_page_and_no_page_or_api_lists_answers(
    owner: Any, employee: Any, employee_client: Any, api_client_for: Any
) -> None:
    survey_round, _ = _org_and_answers(owner, employee)
    SurveyRound.objects.filter(pk=survey_round.pk).update(closes_on=date(2026, 3, 8))
    page = employee_client.get(f"/surveys/rounds/{survey_round.pk}/results/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "The whole company" in html
    assert "Fewer than 5 people answered" in html
    api = api_client_for(employee)
    body = api.get(f"/api/v1/survey-rounds/{survey_round.pk}/results/").json()
    assert [g["key"] for g in body["groups"]] == ["company", "tenure:3y+"]
    assert set(body["groups"][0]) == {
        "key",
        "label",
        "respondents",
        "scores",
        "comments",
        "themes",
        "analysis_note",
    }
    for path in (
        "/api/v1/responses/",
        "/api/v1/answers/",
        f"/api/v1/survey-rounds/{survey_round.pk}/responses/",
    ):
        assert api.get(path).status_code == 404


def test_opening_a_round_invites_everyone_once(owner: Any, django_capture_on_commit_callbacks: Any) -> None:
    EmployeeFactory(email="a@staff.example.com")
    EmployeeFactory(email="b@staff.example.com")
    EmployeeFactory(email="new@staff.example.com", start_date=OPEN + timedelta(days=1))  # not started yet
    survey = services.create_survey(title="Pulse", question_codes=["enps"], user=owner, recurrence="weekly")
    with django_capture_on_commit_callbacks(execute=True):
        first = services.open_round(survey=survey, today=OPEN, user=owner)
        again = services.open_round(survey=survey, today=OPEN, user=owner)
    assert first == again
    assert sorted(m.to[0] for m in mail.outbox) == ["a@staff.example.com", "b@staff.example.com"]
    assert Survey.objects.get(pk=survey.pk).next_round_on == date(2026, 3, 9)


def test_a_drop_of_a_fifth_over_four_weeks_raises_an_early_flag(owner: Any) -> None:
    people = [EmployeeFactory() for _ in range(5)]
    survey = services.create_survey(title="Pulse", question_codes=["eng_energy"], user=owner)
    for opens, value in ((date(2026, 2, 2), 5), (date(2026, 3, 2), 3)):
        survey_round = services.open_round(survey=survey, today=opens, user=owner)
        for person in people:
            services.submit_response(
                survey_round=survey_round, employee=person, answers={"eng_energy": value}, today=opens
            )
    flags = queries.early_flags(survey, date(2026, 3, 20))
    assert [f.text for f in flags] == [
        "The whole company: engagement fell 40 % in 4 weeks (5.0 → 3.0).",
        "More than 3 years: engagement fell 40 % in 4 weeks (5.0 → 3.0).",
    ]


def test_a_closed_rounds_results_are_cached_until_an_answer_or_the_team_tree_changes(
    owner: Any, employee: Any, django_assert_num_queries: Any
) -> None:
    survey_round, care = _org_and_answers(owner, employee)
    survey_round = SurveyRound.objects.select_related("survey").get(pk=survey_round.pk)
    first = queries.round_results(survey_round, CLOSED_AFTER)
    with django_assert_num_queries(2):  # the teams and the answer count: the key, nothing more
        again = queries.round_results(survey_round, CLOSED_AFTER, analyse=False)
    assert again == first
    # An answer arriving (here one stored while the round was open) changes the count, so the key.
    late = EmployeeFactory(team=care)
    services.submit_response(survey_round=survey_round, employee=late, answers={"enps": 10}, today=OPEN)
    company = queries.round_results(survey_round, CLOSED_AFTER).group("company")
    assert company is not None
    assert (company.respondents, {s.instrument: s.value for s in company.scores}["enps"]) == (10, 0.0)
    care.name = "Care & Support"
    care.save(update_fields=["name"])
    withheld = [w.label for w in queries.round_results(survey_round, CLOSED_AFTER).withheld]
    assert withheld == ["Care & Support", "Shop", "Less than a year", "1 to 3 years"]


def test_the_results_endpoint_answers_what_its_schema_describes(
    owner: Any, employee: Any, api_client_for: Any
) -> None:
    from heedful.surveys.api import RoundResultsSerializer

    survey_round, _ = _org_and_answers(owner, employee)
    body = api_client_for(employee).get(f"/api/v1/survey-rounds/{survey_round.pk}/results/").json()
    documented = RoundResultsSerializer(data=body)
    assert documented.is_valid(), documented.errors
    assert set(body) == set(RoundResultsSerializer().fields)
