"""Writes for surveys: create, open rounds, answer anonymously, remind.

Answering is deliberately *not* written to the audit log: an audit row has a timestamp and a
person, which is exactly the link the answer tables avoid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from django.db import IntegrityError, transaction

from heedful.accounts.models import User
from heedful.accounts.roles import Perm
from heedful.governance.services import record_audit
from heedful.people.models import Employee
from heedful.surveys import instruments
from heedful.surveys.models import DEFAULT_K, Answer, Participation, Recurrence, Response, Survey, SurveyRound
from heedful.surveys.queries import tenure_band
from heedful.workflows.events import emit_event

STEP = {
    Recurrence.WEEKLY: timedelta(weeks=1),
    Recurrence.FORTNIGHTLY: timedelta(weeks=2),
    Recurrence.MONTHLY: timedelta(days=28),
}


class SurveyError(Exception):
    """Not allowed or not possible; the message is shown as it is."""


@transaction.atomic
def create_survey(
    *,
    title: str,
    question_codes: list[str],
    user: User,
    k: int = DEFAULT_K,
    recurrence: str = Recurrence.ONCE,
    round_days: int = 7,
    first_round_on: date | None = None,
) -> Survey:
    if not user.can(Perm.MANAGE_SURVEYS):
        raise SurveyError("Only HR or the owner can create surveys.")
    unknown = [c for c in question_codes if c not in instruments.QUESTIONS]
    if unknown or not question_codes:
        raise SurveyError(f"Unknown or missing questions: {', '.join(unknown) or 'none chosen'}.")
    if k < 3:
        raise SurveyError("The minimum group size cannot be below 3.")
    survey = Survey.objects.create(
        title=title,
        question_codes=question_codes,
        k=k,
        recurrence=recurrence,
        round_days=round_days,
        next_round_on=first_round_on,
        created_by=user,
    )
    record_audit(
        action="survey.create",
        user=user,
        obj=survey,
        summary=f"Survey “{title}”: {len(question_codes)} questions, k = {k}, {recurrence}",
    )
    return survey


@transaction.atomic
def open_round(*, survey: Survey, today: date, user: User | None = None) -> SurveyRound:
    """Open the next round (idempotent per day: a second call the same day returns the first)."""
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    latest = survey.rounds.order_by("-number").first()
    if latest is not None and latest.opens_on == today:
        return latest
    survey_round = SurveyRound.objects.create(
        survey=survey,
        number=(latest.number + 1) if latest else 1,
        opens_on=today,
        closes_on=today + timedelta(days=survey.round_days - 1),
    )
    step = STEP.get(Recurrence(survey.recurrence))
    survey.next_round_on = today + step if step else None
    survey.save(update_fields=["next_round_on"])
    record_audit(
        action="survey.open_round",
        user=user,
        automation="" if user else "survey-schedule",
        obj=survey_round,
        summary=f"Round {survey_round.number} of “{survey}”: "
        f"{survey_round.opens_on} – {survey_round.closes_on}",
    )
    from heedful.surveys.tasks import invite_to_round_task

    transaction.on_commit(lambda: invite_to_round_task.delay(survey_round.pk))
    return survey_round


def _validate(survey: Survey, answers: Mapping[str, int | str | None]) -> list[Answer]:
    rows = []
    for code in survey.question_codes:
        question = instruments.QUESTIONS[code]
        raw = answers.get(code)
        if raw in (None, ""):
            continue  # every question may be skipped
        if question.free_text:
            rows.append(Answer(question=code, text=str(raw).strip()[:2000]))
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError) as exc:
            raise SurveyError(f"“{question.text}” needs a number.") from exc
        if not question.low <= value <= question.high:
            raise SurveyError(f"“{question.text}” runs from {question.low} to {question.high}.")
        rows.append(Answer(question=code, value=value))
    return rows


@transaction.atomic
def submit_response(
    *, survey_round: SurveyRound, employee: Employee, answers: Mapping[str, int | str | None], today: date
) -> None:
    """Store one anonymous response. Returns nothing: there is nothing the caller may keep that
    would tie the person to their answers."""
    if not survey_round.opens_on <= today <= survey_round.closes_on:
        raise SurveyError("This round is not open.")
    rows = _validate(survey_round.survey, answers)
    try:
        with transaction.atomic():
            Participation.objects.create(round=survey_round, employee=employee)
    except IntegrityError as exc:
        raise SurveyError("You have already answered this round. Thank you!") from exc
    response = Response.objects.create(
        round=survey_round,
        team_id=employee.team_id,
        tenure_band=tenure_band(employee.start_date, survey_round.opens_on),
    )
    for row in rows:
        row.response = response
    Answer.objects.bulk_create(rows)
    # Only that the round got one more response: no person, team, band, value or comment, and
    # no subject, so a workflow (or whoever reads its event log) learns nothing about the answer.
    emit_event(
        "survey.answered",
        {
            "survey": {"id": survey_round.survey_id, "title": survey_round.survey.title},
            "round": {"id": survey_round.pk, "number": survey_round.number},
        },
        source="surveys",
    )


def due_surveys(today: date) -> list[Survey]:
    return list(Survey.objects.filter(is_active=True, next_round_on__isnull=False, next_round_on__lte=today))
