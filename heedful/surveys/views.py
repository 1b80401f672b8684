"""Survey pages. Nothing here reads individual answers: results come from queries.round_results."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.errors import NotAvailable
from heedful.people.queries import employee_of
from heedful.surveys import instruments, queries, services
from heedful.surveys.forms import AnswerForm, SurveyForm
from heedful.surveys.models import Survey, SurveyRound


@login_required
def survey_list(request: AuthedRequest) -> HttpResponse:
    today = timezone.localdate()
    surveys = Survey.objects.filter(is_active=True).prefetch_related("rounds")
    context = {
        "to_answer": queries.open_rounds_for(employee_of(request.user), today),
        "surveys": surveys,
        "today": today,
    }
    return render(request, "surveys/survey_list.html", context)


@require(Perm.MANAGE_SURVEYS)
def survey_create(request: AuthedRequest) -> HttpResponse:
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            survey = services.create_survey(user=request.user, **form.cleaned_data)
        except services.SurveyError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("surveys:survey-detail", survey.pk)
    return render(request, "surveys/survey_form.html", {"form": form})


@login_required
def survey_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    today = timezone.localdate()
    rounds, series = queries.trend(survey, today)
    context = {
        "survey": survey,
        "rounds": survey.rounds.all(),
        "trend_rounds": rounds,
        "series": sorted(series.items()),
        "flags": queries.early_flags(survey, today),
        "can_manage": request.user.can(Perm.MANAGE_SURVEYS),
    }
    return render(request, "surveys/survey_detail.html", context)


@require(Perm.MANAGE_SURVEYS)
@require_POST
def round_open(request: AuthedRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    survey_round = services.open_round(survey=survey, today=timezone.localdate(), user=request.user)
    messages.success(request, f"Round {survey_round.number} is open; everyone has been invited.")
    return redirect("surveys:survey-detail", pk)


@login_required
def answer(request: AuthedRequest, pk: int) -> HttpResponse:
    survey_round = get_object_or_404(SurveyRound.objects.select_related("survey"), pk=pk)
    employee = employee_of(request.user)
    if employee is None:
        raise NotAvailable("Only employees answer surveys.")
    form = AnswerForm(request.POST or None, question_codes=survey_round.survey.question_codes)
    if request.method == "POST" and form.is_valid():
        try:
            services.submit_response(
                survey_round=survey_round,
                employee=employee,
                answers=form.cleaned_data,
                today=timezone.localdate(),
            )
        except services.SurveyError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Thank you. Your answers are stored without your name.")
            return redirect("surveys:survey-list")
    return render(request, "surveys/answer.html", {"round": survey_round, "form": form})


@login_required
def results(request: AuthedRequest, pk: int) -> HttpResponse:
    """The same aggregate results for everyone, managers and employees alike (transparency)."""
    survey_round = get_object_or_404(SurveyRound.objects.select_related("survey"), pk=pk)
    context = {
        "results": queries.round_results(survey_round, timezone.localdate()),
        "instruments": instruments.INSTRUMENTS,
    }
    return render(request, "surveys/results.html", context)
