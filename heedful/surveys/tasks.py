"""Survey tasks: open scheduled rounds, invite, remind. Each is safe to run twice."""

from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from heedful.people.models import Employee
from heedful.people.notifications import send_once, url
from heedful.surveys import services
from heedful.surveys.models import SurveyRound


@shared_task
def open_due_rounds_task(today_iso: str | None = None) -> int:
    """Open every round whose schedule says today (open_round is idempotent per day)."""
    today = date.fromisoformat(today_iso) if today_iso else timezone.localdate()
    surveys = services.due_surveys(today)
    for survey in surveys:
        services.open_round(survey=survey, today=today)
    return len(surveys)


def _mail_round(survey_round: SurveyRound, kind: str, only_missing: bool) -> int:
    # Only people who have started: a new hire has nothing to say about the team yet.
    people = Employee.objects.filter(is_active=True, start_date__lte=survey_round.opens_on)
    if only_missing:
        people = people.exclude(survey_participations__round=survey_round)
    sent = 0
    for employee in people.select_related("user"):
        to = employee.user.email if employee.user else employee.email
        sent += send_once(
            f"survey:{survey_round.pk}:{kind}:{employee.pk}",
            to=to,
            subject=f"{survey_round.survey}: {'a reminder, ' if kind == 'remind' else ''}"
            "two minutes, anonymous",
            body=(
                f"Round {survey_round.number} of “{survey_round.survey}” "
                f"is open until {survey_round.closes_on}.\n\n"
                f"Answer: {url('surveys:answer', survey_round.pk)}\n\n"
                "Your answers are stored without your name and are only ever shown for groups of "
                f"at least {survey_round.survey.k} people.\n"
            ),
        )
    return sent


@shared_task
def invite_to_round_task(round_id: int) -> int:
    survey_round = SurveyRound.objects.select_related("survey").filter(pk=round_id).first()
    return _mail_round(survey_round, "invite", only_missing=False) if survey_round else 0


@shared_task
def remind_survey_rounds_task(today_iso: str | None = None) -> int:
    """Remind people who have not answered, once, two days before a round closes."""
    today = date.fromisoformat(today_iso) if today_iso else timezone.localdate()
    rounds = SurveyRound.objects.select_related("survey").filter(
        opens_on__lt=today, closes_on=today + timedelta(days=2)
    )
    return sum(_mail_round(r, "remind", only_missing=True) for r in rounds)
