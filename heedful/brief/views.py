from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from heedful.accounts.permissions import AuthedRequest
from heedful.brief.queries import home_counts, survey_flags


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """The owner's morning page; the daily brief will live here."""
    context = {
        "counts": home_counts(request.user),
        "survey_flags": survey_flags(request.user, timezone.localdate()),
    }
    return render(request, "brief/home.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for process managers: the web process answers and reaches its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
