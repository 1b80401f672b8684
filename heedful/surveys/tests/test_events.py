"""survey.answered tells workflows that a round got a response, and nothing about whose or what."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from heedful.people.tests.factories import EmployeeFactory, TeamFactory
from heedful.surveys import instruments, services
from heedful.surveys.models import Response
from heedful.workflows.catalogue import CATALOGUE
from heedful.workflows.models import Event

pytestmark = pytest.mark.django_db

OPEN = date(2026, 3, 2)


def test_each_answer_emits_one_event_that_names_neither_person_nor_answer(owner: Any) -> None:
    care = TeamFactory(name="Care")
    cara = EmployeeFactory(
        first_name="Cara", email="cara@staff.example.com", team=care, start_date=date(2025, 9, 1)
    )
    dan = EmployeeFactory(first_name="Dan", email="dan@staff.example.com", team=care)
    survey = services.create_survey(title="Monthly pulse", question_codes=instruments.PULSE, user=owner)
    survey_round = services.open_round(survey=survey, today=OPEN, user=owner)
    for person, comment in ((cara, "Too many night shifts"), (dan, "")):
        services.submit_response(
            survey_round=survey_round,
            employee=person,
            answers={"enps": 3, "eng_energy": 2, "comment": comment},
            today=OPEN,
        )

    payload = {
        "survey": {"id": survey.pk, "title": "Monthly pulse"},
        "round": {"id": survey_round.pk, "number": 1},
    }
    events = [
        (e.name, e.subject_type, e.subject_id, e.subject_label, e.payload)
        for e in Event.objects.order_by("pk")
    ]
    assert events == [("survey.answered", "", "", "", payload)] * 2
    assert CATALOGUE["survey.answered"].example.keys() == payload.keys()
    assert CATALOGUE["survey.answered"].subject_type == ""
    stored = json.dumps([e.payload for e in Event.objects.all()]).lower()
    for leak in ("cara", "dan", "care", "night", "1-3y", "3y+", "enps", "score", "team"):
        assert leak not in stored, leak
    assert Response.objects.count() == 2


def test_the_catalogue_example_for_survey_answered_carries_no_answer() -> None:
    example = CATALOGUE["survey.answered"].example
    assert example == {"survey": {"id": 2, "title": "Monthly pulse"}, "round": {"id": 7, "number": 3}}
