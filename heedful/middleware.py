"""Project-wide request checks that belong to no single app."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RefuseNulCharactersMiddleware:
    """A 400 for a request whose path or query string carries a NUL character.

    PostgreSQL refuses NUL in text, so any search or filter given ``%00`` (``?q=%00``,
    ``?subject_type=%00``) failed with a 500 there; SQLite went along. Bodies are checked where
    they are read (Django and DRF character fields, the JSON parser in heedful/api_fields.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.lists()
        if "\x00" in request.path or any("\x00" in k or any("\x00" in v for v in vs) for k, vs in query):
            return HttpResponseBadRequest(
                "The address contains a NUL character (%00).", content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)
