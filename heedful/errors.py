"""Error pages that say what happened in words a person can act on (and the favicon fallback).

Django's built-in 404 page drops the message a view gave, so "your account is not linked to an
employee record yet; ask HR" reached nobody. A view that means its message for the reader
raises :class:`NotAvailable`; any other 404 (a wrong address, a deleted record) gets the
general page, so model names never reach it.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static


class NotAvailable(Http404):
    """A 404 whose message is written for the person who asked; the page shows it."""


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = ""
    if isinstance(exception, NotAvailable) and exception.args and isinstance(exception.args[0], str):
        message = exception.args[0]
    return render(request, "404.html", {"message": message}, status=404)


def favicon(request: HttpRequest) -> HttpResponse:
    # static() at request time: with the manifest storage it needs collectstatic to have run,
    # which importing the URLs (``heedful manage check``, migrations) must not.
    return HttpResponsePermanentRedirect(static("heedful/favicon.svg"))
