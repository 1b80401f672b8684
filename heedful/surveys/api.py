"""Surveys API: surveys, rounds, anonymous answering and aggregate results. There is no
endpoint that returns individual answers, by design."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from heedful.api_fields import JsonObjectField
from heedful.people.queries import employee_of
from heedful.surveys import queries, services
from heedful.surveys.models import Survey, SurveyRound


class SurveySerializer(serializers.ModelSerializer[Survey]):
    class Meta:
        model = Survey
        fields = ["id", "title", "question_codes", "k", "recurrence", "round_days", "next_round_on"]


class RoundSerializer(serializers.ModelSerializer[SurveyRound]):
    class Meta:
        model = SurveyRound
        fields = ["id", "survey", "number", "opens_on", "closes_on"]


class ScoreSerializer(serializers.Serializer[Any]):
    instrument = serializers.CharField()
    name = serializers.CharField()
    value = serializers.FloatField()
    meaning = serializers.CharField()


class GroupResultSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    respondents = serializers.IntegerField()
    scores = ScoreSerializer(many=True)
    comments = serializers.ListField(child=serializers.CharField())
    themes = serializers.ListField(child=serializers.CharField())
    analysis_note = serializers.CharField(allow_blank=True)  # "" when the comments were analysed


class WithheldSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    reason = serializers.CharField()


class RoundResultsSerializer(serializers.Serializer[Any]):
    """What ``results`` answers (the schema described it as a round before)."""

    round = serializers.IntegerField()
    k = serializers.IntegerField()
    closed = serializers.BooleanField()
    groups = GroupResultSerializer(many=True)
    withheld = WithheldSerializer(many=True)


class AnswerSerializer(serializers.Serializer[Any]):
    answers = JsonObjectField(
        help_text='Question code to answer, e.g. {"enps": 9, "comment": "More focus time"}.'
    )


class SurveyViewSet(viewsets.ReadOnlyModelViewSet[Survey]):
    serializer_class = SurveySerializer
    permission_classes = [IsAuthenticated]
    queryset = Survey.objects.filter(is_active=True)


class RoundViewSet(viewsets.ReadOnlyModelViewSet[SurveyRound]):
    serializer_class = RoundSerializer
    permission_classes = [IsAuthenticated]
    queryset = SurveyRound.objects.select_related("survey").order_by("-opens_on")

    @extend_schema(responses=RoundResultsSerializer)
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str) -> Response:
        """Aggregates for shown groups and the reasons for withheld ones; the same for everyone."""
        res = queries.round_results(self.get_object(), timezone.localdate())
        return Response(
            {
                "round": res.round.pk,
                "k": res.k,
                "closed": res.is_closed,
                "groups": [
                    {
                        "key": g.key,
                        "label": g.label,
                        "respondents": g.respondents,
                        "scores": [asdict(s) for s in g.scores],
                        "comments": g.comments,
                        "themes": g.analysis.themes,
                        "analysis_note": g.analysis.note,
                    }
                    for g in res.shown
                ],
                "withheld": [asdict(w) for w in res.withheld],
            }
        )

    @extend_schema(
        request=AnswerSerializer,
        responses={201: inline_serializer("AnswerReceipt", {"detail": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"], serializer_class=AnswerSerializer)
    def answer(self, request: Request, pk: str) -> Response:
        employee = employee_of(request.user)  # type: ignore[arg-type]
        if employee is None:
            raise NotFound("Only employees answer surveys.")
        # A list or a number for "answers" used to reach dict() and fail with a 500.
        payload = AnswerSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        answers: dict[str, Any] = payload.validated_data["answers"]
        try:
            services.submit_response(
                survey_round=self.get_object(), employee=employee, answers=answers, today=timezone.localdate()
            )
        except services.SurveyError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response({"detail": "Thank you. Your answers are stored without your name."}, status=201)


def register(router: DefaultRouter) -> None:
    router.register("surveys", SurveyViewSet, basename="survey")
    router.register("survey-rounds", RoundViewSet, basename="survey-round")
