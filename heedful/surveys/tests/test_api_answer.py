"""Answering through the API: a malformed payload is a 400 and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from heedful.people.tests.factories import EmployeeFactory
from heedful.surveys import instruments, services
from heedful.surveys.models import Participation, Response

pytestmark = pytest.mark.django_db


def test_answers_must_be_an_object_and_a_good_one_is_stored_once(
    owner: Any, employee: Any, api_client_for: Any
) -> None:
    EmployeeFactory(user=employee, email=employee.email)
    survey = services.create_survey(title="Pulse", question_codes=instruments.PULSE, user=owner)
    survey_round = services.open_round(survey=survey, today=timezone.localdate(), user=owner)
    api = api_client_for(employee)
    url = f"/api/v1/survey-rounds/{survey_round.pk}/answer/"
    for bad in ([["enps", 9]], 9, "enps=9", None):  # dict() of these was a 500
        response = api.post(url, {"answers": bad}, format="json")
        assert response.status_code == 400, bad
    assert api.post(url, {}, format="json").json() == {"answers": ["This field is required."]}
    assert (Response.objects.count(), Participation.objects.count()) == (0, 0)

    response = api.post(url, {"answers": {"enps": 9, "comment": "More focus time"}}, format="json")
    assert response.status_code == 201
    assert response.json() == {"detail": "Thank you. Your answers are stored without your name."}
    assert (Response.objects.count(), Participation.objects.count()) == (1, 1)
