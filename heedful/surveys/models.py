"""Pulse surveys (C13, C15). Answers are stored so that nothing links them to a person.

* ``Response``/``Answer`` have no user or employee key and no timestamp: only the round they
  belong to and the two groups results can be cut by (team, tenure band) as they were at the
  time. Their primary keys are random UUIDs, so the order of ids says nothing about who
  answered first.
* ``Participation`` records who took part in a round, only so that reminders skip them. It has
  no key to any answer and no time.

See ANONYMITY.md for the disclosure rule applied to everything shown.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from heedful.people.models import Employee, Team

DEFAULT_K = 5


class Recurrence(models.TextChoices):
    ONCE = "once", _("once")
    WEEKLY = "weekly", _("every week")
    FORTNIGHTLY = "fortnightly", _("every two weeks")
    MONTHLY = "monthly", _("every month")


class Survey(models.Model):
    title = models.CharField(_("title"), max_length=200)
    question_codes = models.JSONField(_("questions"), default=list)
    # Below 3 a single colleague's answer would be guessable from the average; 5 is the default.
    k = models.PositiveSmallIntegerField(
        _("minimum group size"), default=DEFAULT_K, validators=[MinValueValidator(3)]
    )
    recurrence = models.CharField(
        _("repeats"), max_length=12, choices=Recurrence.choices, default=Recurrence.ONCE
    )
    round_days = models.PositiveSmallIntegerField(_("days open"), default=7)
    next_round_on = models.DateField(_("next round opens"), null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class SurveyRound(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    opens_on = models.DateField()
    closes_on = models.DateField()

    class Meta:
        ordering = ["survey", "-number"]
        constraints = [models.UniqueConstraint(fields=["survey", "number"], name="surveys_round_number_once")]

    def __str__(self) -> str:
        return f"{self.survey} #{self.number} ({self.opens_on} – {self.closes_on})"


class Participation(models.Model):
    round = models.ForeignKey(SurveyRound, on_delete=models.CASCADE, related_name="participations")
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="survey_participations")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "employee"], name="surveys_answer_once_per_round")
        ]

    def __str__(self) -> str:
        return f"{self.employee} took part in {self.round}"


class Response(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    round = models.ForeignKey(SurveyRound, on_delete=models.CASCADE, related_name="responses")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tenure_band = models.CharField(max_length=12)

    def __str__(self) -> str:
        return f"An anonymous response to {self.round}"


class Answer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.CharField(max_length=40)
    value = models.SmallIntegerField(null=True, blank=True)
    text = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.question
