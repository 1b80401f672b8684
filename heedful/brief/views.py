from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.brief import services
from heedful.brief.models import SetupListHidden
from heedful.brief.queries import background_health, home_counts, survey_flags
from heedful.brief.setup import setup_steps


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """The owner's morning page; the daily brief will live here."""
    steps = setup_steps() if request.user.can(Perm.MANAGE_USERS) else []
    context = {
        "setup": steps if any(not step.done for step in steps) else [],
        "setup_left": sum(not step.done for step in steps),
        "setup_hidden": bool(steps) and SetupListHidden.objects.exists(),
        "counts": home_counts(request.user),
        "survey_flags": survey_flags(request.user, timezone.localdate()),
        # Approved actions, reminders and email wait on the worker: tell those who approve.
        "background": background_health() if request.user.can(Perm.DECIDE_APPROVALS) else None,
    }
    return render(request, "brief/home.html", context)


@require(Perm.MANAGE_USERS)
@require_POST
def setup_list(request: AuthedRequest) -> HttpResponse:
    """Hide the setup list (``hide=1``) or show it again."""
    if request.POST.get("hide") == "1":
        services.hide_setup_list(user=request.user)
    else:
        services.show_setup_list(user=request.user)
    return redirect("home")


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
