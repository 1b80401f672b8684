from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from heedful.accounts.permissions import AuthedRequest
from heedful.accounts.roles import Perm
from heedful.brief.queries import background_health, home_counts, survey_flags


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """The owner's morning page; the daily brief will live here."""
    context = {
        "counts": home_counts(request.user),
        "survey_flags": survey_flags(request.user, timezone.localdate()),
        # Approved actions, reminders and email wait on the worker: tell those who approve.
        "background": background_health() if request.user.can(Perm.DECIDE_APPROVALS) else None,
    }
    return render(request, "brief/home.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for process managers: the web process answers and reaches its database.

    ``background`` says whether the scheduler and a worker are running; it does not change the
    status, since restarting the web server would not mend them.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    health = background_health()
    last_run = health.last_run.isoformat() if health.last_run else None
    return JsonResponse({"status": "ok", "background": {"last_run": last_run, "stale": health.stale}})
