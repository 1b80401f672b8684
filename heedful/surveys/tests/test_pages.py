from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from heedful.people.tests.factories import EmployeeFactory
from heedful.surveys import instruments, services

pytestmark = pytest.mark.django_db


def test_every_survey_and_leave_page_renders_for_an_employee(
    owner: Any, employee: Any, employee_client: Any
) -> None:
    EmployeeFactory(user=employee, email=employee.email)
    survey = services.create_survey(title="Pulse", question_codes=instruments.PULSE, user=owner)
    survey_round = services.open_round(survey=survey, today=timezone.localdate(), user=owner)
    for path, text in [
        ("/surveys/", "Waiting for your answers"),
        (f"/surveys/{survey.pk}/", "Rounds"),
        (f"/surveys/rounds/{survey_round.pk}/answer/", "Send anonymously"),
        (f"/surveys/rounds/{survey_round.pk}/results/", "Results appear when the round closes"),
        ("/people/leave/", "Ask for leave"),
        ("/people/calendar/", "Subscribe in your calendar app"),
        ("/people/me/", "What heedful holds about me"),
    ]:
        response = employee_client.get(path)
        assert (path, response.status_code) == (path, 200)
        assert text in response.content.decode()
    assert employee_client.get("/surveys/new/").status_code == 403
    # The comment box has a label a screen reader announces; the choices have their legends.
    answer_page = employee_client.get(f"/surveys/rounds/{survey_round.pk}/answer/").content.decode()
    assert '<label for="id_comment">' in answer_page
    assert answer_page.count("<legend>") == len(instruments.PULSE) - 1
    response = employee_client.post(
        f"/surveys/rounds/{survey_round.pk}/answer/", {"enps": "9", "comment": "ok"}
    )
    assert response.status_code == 302
    assert survey_round.responses.count() == 1
