"""The chat widget's JSON API, for pages on other sites: origin check, CORS, rate limit.

No cookies are involved (the visitor's token travels in a header), so CSRF does not apply and
the views are exempt; the allowed-origins list decides which sites may talk to us at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from heedful.inbox import chat, conf

TOKEN_HEADER = "X-Heedful-Visitor"  # noqa: S105 - a header name, not a secret
View = Callable[..., HttpResponse]


def _own_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def origin_allowed(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin", "")
    if not origin:
        return True  # not a browser's cross-site call; the visitor token still decides
    return origin.rstrip("/") in {*conf.widget_allowed_origins(), _own_origin(request)}


def _with_cors(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    origin = request.headers.get("Origin")
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
        response["Access-Control-Allow-Headers"] = f"Content-Type, {TOKEN_HEADER}"
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Max-Age"] = "600"
    response["Cache-Control"] = "no-store"
    return response


def over_limit(kind: str, ident: str, limit: int, window: int) -> bool:
    """Fixed-window counter in the cache: True once ``ident`` made more than ``limit`` calls."""
    key = f"inbox:rate:{kind}:{ident}:{int(time.time() // window)}"
    cache.add(key, 0, timeout=window + 1)
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        return False


class BadBody(ValueError):
    """A request body the widget API cannot read; ``str()`` is what the visitor is shown."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def widget_api(view: View) -> View:
    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not origin_allowed(request):
            return JsonResponse({"error": "This site may not use the chat."}, status=403)
        if request.method == "OPTIONS":
            return _with_cors(request, HttpResponse(status=204))
        try:
            response = view(request, *args, **kwargs)
        except BadBody as bad:
            # JSON like every other answer here: the widget shows ``error``; Django's own 400 page
            # for an oversized body was HTML, which the widget could only report as a parse error.
            response = JsonResponse({"error": str(bad)}, status=bad.status)
        return _with_cors(request, response)

    return wrapped


def _json_body(request: HttpRequest) -> dict[str, Any]:
    """The body's JSON object (``{}`` for an empty body); :class:`BadBody` when it is not one.

    Each failure says what is wrong: a body that was not JSON used to read as ``{}``, so the
    visitor who sent a message was told to "write a message first"."""
    try:
        raw = request.body
    except RequestDataTooBig as too_big:
        raise BadBody("That is too much to send at once.", status=413) from too_big
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))  # RFC 8259: JSON between systems is UTF-8
    except UnicodeDecodeError as error:
        raise BadBody("The request must be JSON encoded as UTF-8.") from error
    except ValueError as error:
        raise BadBody("The request is not valid JSON.") from error
    if not isinstance(data, dict):
        raise BadBody("The request must be a JSON object.")
    return data


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def _visitor(request: HttpRequest) -> chat.ChatVisitor | None:
    return chat.visitor_for_token(request.headers.get(TOKEN_HEADER, ""))


def _too_many() -> JsonResponse:
    return JsonResponse(
        {"error": "Too many messages; please wait a moment."}, status=429, headers={"Retry-After": "30"}
    )


@widget_api
def session(request: HttpRequest) -> HttpResponse:
    """POST: resume the visitor of the token sent, or start a new one."""
    if request.method != "POST":
        return JsonResponse({"error": "POST only"}, status=405)
    visitor = _visitor(request)
    if visitor is not None:
        return JsonResponse({"token": None, "messages": chat.visible_messages(visitor.conversation)})
    limit, window = conf.chat_sessions_per_ip()
    if over_limit("session", _client_ip(request), limit, window):
        return _too_many()
    started = chat.start_visitor_session(origin=request.headers.get("Origin", ""))
    return JsonResponse({"token": started.token, "messages": []})


@widget_api
def messages(request: HttpRequest) -> HttpResponse:
    """GET: messages after ``?after=<id>``. POST ``{"text": …}``: say something."""
    try:
        after = max(0, int(request.GET.get("after", "0")))
    except ValueError:
        after = 0
    if request.method == "GET":  # the widget's poll, every 2 s per open chat: kept lean
        found = chat.poll(request.headers.get(TOKEN_HEADER, ""), after)
        if found is None:
            return JsonResponse({"error": "Unknown visitor; start a session first."}, status=401)
        return JsonResponse({"messages": found})
    visitor = _visitor(request)
    if visitor is None:
        return JsonResponse({"error": "Unknown visitor; start a session first."}, status=401)
    if request.method == "POST":
        raw = _json_body(request).get("text", "")
        if not isinstance(raw, str):  # str() made 5, null or a list into a message
            return JsonResponse({"error": "text must be a string."}, status=400)
        text = raw.strip()
        if not text:
            return JsonResponse({"error": "Write a message first."}, status=400)
        if len(text) > chat.MAX_TEXT:
            # Refused whole rather than cut: the visitor still has the text and can split it.
            error = f"A message can be at most {chat.MAX_TEXT:,} characters; this one has {len(text):,}."
            return JsonResponse({"error": error}, status=400)
        limit, window = conf.chat_rate_limit()
        if over_limit("message", str(visitor.pk), limit, window):
            return _too_many()
        posted = chat.post_visitor_message(visitor=visitor, text=text)
        return JsonResponse({"messages": chat.visible_messages(posted.conversation, after)})
    return JsonResponse({"error": "GET or POST"}, status=405)


@widget_api
def feedback(request: HttpRequest) -> HttpResponse:
    """POST ``{"message_id": …, "choice": "helped" | "not_helped" | "person"}``."""
    visitor = _visitor(request)
    if visitor is None:
        return JsonResponse({"error": "Unknown visitor; start a session first."}, status=401)
    if request.method != "POST":
        return JsonResponse({"error": "POST only"}, status=405)
    data = _json_body(request)
    try:
        message_id = int(data.get("message_id", 0))
    except (TypeError, ValueError):
        return JsonResponse({"error": "message_id must be a number"}, status=400)
    chat.post_visitor_feedback(visitor=visitor, message_id=message_id, choice=str(data.get("choice", "")))
    return JsonResponse({"ok": True})


def contact_form(request: HttpRequest) -> HttpResponse:
    """The public web form; the answer (the bot's or a person's) goes to the email address given."""
    from heedful.inbox.forms import ContactForm
    from heedful.inbox.services import submit_contact_form

    form = ContactForm(request.POST or None)
    if request.method == "POST":
        limit, window = conf.chat_sessions_per_ip()
        if over_limit("form", _client_ip(request), limit, window):
            return render(request, "inbox/contact_form.html", {"form": form, "limited": True}, status=429)
        if form.is_valid():
            submit_contact_form(**form.cleaned_data)
            return render(request, "inbox/contact_form.html", {"sent": True})
    return render(request, "inbox/contact_form.html", {"form": form})


def demo(request: HttpRequest) -> HttpResponse:
    """A pretend shop page with the widget on it, as a customer's site would embed it."""
    return render(request, "inbox/widget_demo.html")
