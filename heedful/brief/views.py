from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from heedful.accounts.permissions import AuthedRequest
from heedful.brief.queries import home_counts


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """The owner's morning page; the daily brief will live here."""
    return render(request, "brief/home.html", {"counts": home_counts(request.user)})


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for process managers: the web process answers and reaches its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
