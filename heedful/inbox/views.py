"""The agents' inbox: the list sorted by triage, one conversation with its context, replies.

Every action is a real ``<form method="post">`` that redirects back; with htmx the message
list refreshes itself every few seconds, so new messages appear without reloading.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from heedful.accounts.models import User
from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.inbox import canned, csat, queries, services, sla
from heedful.inbox.forms import CannedResponseForm, NoteForm, ReplyForm
from heedful.inbox.models import CannedResponse, Conversation


@require(Perm.WORK_INBOX)
def inbox_list(request: AuthedRequest) -> HttpResponse:
    view = request.GET.get("view", "open")
    view = view if view in queries.FILTERS else "open"
    mine = request.GET.get("mine") == "1"
    query = request.GET.get("q", "").strip()[:200]
    rows = queries.inbox_conversations(view=view, user=request.user, mine=mine, query=query)
    page = Paginator(rows, queries.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"rows": page.object_list, "page": page, "view": view, "mine": mine, "query": query}
    if getattr(request, "htmx", False):
        return render(request, "inbox/_list_rows.html", context)
    counts = queries.inbox_counts(user=request.user, mine=mine)
    views = [(key, label, counts[key]) for key, (label, _lookup) in queries.FILTERS.items()]
    return render(
        request,
        "inbox/inbox_list.html",
        {
            **context,
            "views": views,
            "notices": sla.notices_for(request.user),
            "agents": queries.inbox_agents(),
        },
    )


LIST_PARAMS = ("view", "mine", "q", "page")


@require_POST
@require(Perm.WORK_INBOX)
def bulk(request: AuthedRequest) -> HttpResponse:
    """The ticked conversations resolved, assigned or tagged; back to the same list page."""
    kept = {key: request.POST[key] for key in LIST_PARAMS if request.POST.get(key)}
    back = reverse("inbox:list") + (f"?{urlencode(kept)}" if kept else "")
    ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()]
    action = request.POST.get("do", "")
    if not ids:
        messages.error(request, _("Tick the conversations first."))
        return redirect(back)
    assignee = None
    chosen = request.POST.get("assignee", "")
    if action == "assign" and chosen:
        assignee = User.objects.filter(pk=int(chosen)).first() if chosen.isdigit() else None
        if assignee is None or not assignee.can(Perm.WORK_INBOX):
            messages.error(request, _("Choose someone who works in the inbox."))
            return redirect(back)
    try:
        done = services.act_on_conversations(
            ids, action=action, user=request.user, assignee=assignee, tag=request.POST.get("tag", "")
        )
    except ValueError as exc:
        messages.error(request, str(exc) if action == "tag" else _("Choose what to do with them."))
        return redirect(back)
    said = {
        "resolve": ngettext("Resolved %(n)d conversation.", "Resolved %(n)d conversations.", done.changed),
        "assign": ngettext("Assigned %(n)d conversation.", "Assigned %(n)d conversations.", done.changed),
        "tag": ngettext("Tagged %(n)d conversation.", "Tagged %(n)d conversations.", done.changed),
    }[action] % {"n": done.changed}
    if done.unchanged:
        said += " " + ngettext("%(n)d was already so.", "%(n)d were already so.", done.unchanged) % {
            "n": done.unchanged
        }
    messages.success(request, said)
    return redirect(back)


@require_POST
@require(Perm.WORK_INBOX)
def dismiss_notice(request: AuthedRequest, pk: int) -> HttpResponse:
    sla.dismiss_notice(notice_id=pk, user=request.user)
    if request.POST.get("back") == "notices":
        who = "?who=all" if request.POST.get("who") == "all" else ""
        return redirect(reverse("inbox:notices") + who)
    return redirect("inbox:list")


@require(Perm.WORK_INBOX)
def sla_notices(request: AuthedRequest) -> HttpResponse:
    """Overdue conversations: the breaches I was told about, or (managers) everyone's."""
    may_see_all = sla.sees_everyones_breaches(request.user)
    everyone = may_see_all and request.GET.get("who") == "all"
    return render(
        request,
        "inbox/sla_notices.html",
        {
            "everyone": everyone,
            "may_see_all": may_see_all,
            "rows": sla.open_breaches(request.user) if everyone else [],
            "notices": [] if everyone else sla.open_notices(request.user)[:200],
        },
    )


@require(Perm.WORK_INBOX)
def conversation_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, pk=pk)
    context = queries.conversation_context(conversation)
    # The suggestions come in their own request (htmx, on load): right after a knowledge-base
    # edit the matcher may be retraining, and the conversation must not wait for it. Without
    # JavaScript, ?suggest=1 shows them inline.
    suggestions, relearning = None, False
    if request.GET.get("suggest") == "1" and context.last_customer_text:
        suggestions, relearning = services.knowledge_suggestions(context.last_customer_text)
    listing, seen = _message_list(request, context)
    return render(
        request,
        "inbox/conversation.html",
        {
            "ctx": context,
            "listing": listing,
            "seen": seen,
            "conversation": conversation,
            "suggestions": suggestions,
            "relearning": relearning,
            "reply_form": ReplyForm(),
            "note_form": NoteForm(),
        },
    )


@require(Perm.WORK_INBOX)
def conversation_suggestions(request: AuthedRequest, pk: int) -> HttpResponse:
    """htmx: the knowledge-base entries that may answer the customer's last message."""
    conversation = get_object_or_404(Conversation, pk=pk)
    suggestions, relearning = services.knowledge_suggestions(queries.last_customer_text(conversation))
    return render(
        request,
        "inbox/_suggestions.html",
        {"conversation": conversation, "suggestions": suggestions, "relearning": relearning},
    )


@require(Perm.WORK_INBOX)
def conversation_messages(request: AuthedRequest, pk: int) -> HttpResponse:
    """The message list alone, polled by htmx for live updates: "204 No Content" while it is
    what the page shows (``?seen=``). Swapping an unchanged list every few seconds took a
    button or link from under a click now and then, and lost the click."""
    conversation = get_object_or_404(Conversation, pk=pk)
    listing, seen = _message_list(request, queries.conversation_context(conversation))
    if request.GET.get("seen") == seen:
        return HttpResponse(status=204)
    return render(
        request,
        "inbox/_messages_live.html",
        {"listing": listing, "seen": seen, "conversation": conversation},
    )


_CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*')


def _message_list(request: HttpRequest, context: Any) -> tuple[SafeString, str]:
    """The rendered message list and a fingerprint of it (without the CSRF tokens of its
    buttons, which differ at every rendering)."""
    listing = render_to_string("inbox/_messages.html", {"ctx": context}, request=request)
    return mark_safe(listing), hashlib.sha256(_CSRF_VALUE.sub(r"\1", listing).encode()).hexdigest()[:16]  # noqa: S308


@require_POST
@require(Perm.WORK_INBOX)
def reply(request: AuthedRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, pk=pk)
    form = ReplyForm(request.POST)
    if form.is_valid():
        services.reply_as_agent(
            conversation=conversation,
            user=request.user,
            body=form.cleaned_data["body"],
            faq_entry_id=form.cleaned_data["faq_entry"],
        )
    else:
        messages.error(request, _("Write a reply first."))
    return redirect("inbox:conversation", pk=pk)


@require_POST
@require(Perm.WORK_INBOX)
def note(request: AuthedRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, pk=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        services.add_internal_note(
            conversation=conversation, user=request.user, body=form.cleaned_data["body"]
        )
    return redirect("inbox:conversation", pk=pk)


@require_POST
@require(Perm.WORK_INBOX)
def hand_back(request: AuthedRequest, pk: int) -> HttpResponse:
    services.hand_back_to_bot(conversation=get_object_or_404(Conversation, pk=pk), user=request.user)
    messages.success(request, _("The bot answers this conversation again."))
    return redirect("inbox:conversation", pk=pk)


@require_POST
@require(Perm.MANAGE_KNOWLEDGE)
def wrong_answer(request: AuthedRequest, pk: int, message_pk: int) -> HttpResponse:
    """Reverse a bot answer that did not fit: the knowledge base does not cover the question."""
    conversation = get_object_or_404(Conversation, pk=pk)
    message = get_object_or_404(conversation.messages.select_related("decision"), pk=message_pk)
    try:
        question = services.mark_bot_answer_wrong(message=message, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("inbox:conversation", pk=pk)
    messages.success(
        request,
        _(
            "Marked wrong. “%(question)s” is on the knowledge base's list of questions it does not "
            "cover: the bot hands it, and questions like it, to a person once it has relearnt."
        )
        % {"question": question[:120]},
    )
    return redirect("inbox:conversation", pk=pk)


@require_POST
@require(Perm.WORK_INBOX)
def take(request: AuthedRequest, pk: int) -> HttpResponse:
    services.take_over(conversation=get_object_or_404(Conversation, pk=pk), user=request.user)
    return redirect("inbox:conversation", pk=pk)


@require_POST
@require(Perm.WORK_INBOX)
def resolve(request: AuthedRequest, pk: int) -> HttpResponse:
    services.resolve_conversation(conversation=get_object_or_404(Conversation, pk=pk), user=request.user)
    messages.success(request, _("Resolved."))
    return redirect("inbox:list")


@require_POST
@require(Perm.WORK_INBOX)
def tag(request: AuthedRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, pk=pk)
    services.tag_conversation(conversation=conversation, tag=request.POST.get("tag", ""), user=request.user)
    return redirect("inbox:conversation", pk=pk)


@require_POST
@require(Perm.WORK_INBOX)
def assign(request: AuthedRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, pk=pk)
    assignee_id = request.POST.get("assignee", "")
    assignee = User.objects.filter(pk=int(assignee_id)).first() if assignee_id.isdigit() else None
    if assignee_id and (assignee is None or not assignee.can(Perm.WORK_INBOX)):
        messages.error(request, _("Choose someone who works in the inbox."))
    else:
        services.assign_conversation(conversation=conversation, assignee=assignee, user=request.user)
    return redirect("inbox:conversation", pk=pk)


# --- customer satisfaction -------------------------------------------------------------------

REPORT_WINDOWS = (30, 90)


@require(Perm.WORK_INBOX)
def report(request: AuthedRequest) -> HttpResponse:
    """CSAT per agent and overall for the last 30 and 90 days; an agent sees only their own."""
    windows = []
    for days in REPORT_WINDOWS:
        rows, overall = queries.csat_results(user=request.user, days=days)
        windows.append({"days": days, "rows": rows, "overall": overall})
    return render(
        request,
        "inbox/report.html",
        {
            "windows": windows,
            "team": queries.sees_team_results(request.user),
            "comments": queries.csat_comments(user=request.user),
        },
    )


def csat_page(request: HttpRequest, token: str, rating: int | None = None) -> HttpResponse:
    """Public: a rating link from the CSAT question opens here (and records the click);
    the form adds a comment or changes the rating. The signed token is the only key."""
    question = csat.request_for_token(token)
    if question is None:
        return render(request, "inbox/csat.html", {"invalid": True}, status=404)
    error = ""
    saved = False
    if request.method == "POST":
        try:
            chosen = int(request.POST.get("rating", ""))
        except ValueError:
            chosen = 0
        try:
            question = csat.record_csat_answer(
                request=question, rating=chosen, comment=request.POST.get("comment", "")
            )
            saved = True
        except csat.CsatError as exc:
            error = str(exc)
    elif rating is not None and request.method == "GET":
        try:
            question = csat.record_csat_answer(request=question, rating=rating)
        except csat.CsatError as exc:
            error = str(exc)
    return render(
        request,
        "inbox/csat.html",
        {
            "question": question,
            "token": token,
            "ratings": sorted(csat.RATINGS.items(), reverse=True),
            "error": error,
            "saved": saved,
        },
        status=400 if error else 200,
    )


# --- canned responses ------------------------------------------------------------------------


@require(Perm.WORK_INBOX)
def canned_list(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "inbox/canned_list.html",
        {"responses": CannedResponse.objects.all(), "tokens": canned.TOKENS},
    )


def _canned_form_page(request: AuthedRequest, instance: CannedResponse | None) -> HttpResponse:
    initial = (
        {"title": instance.title, "shortcut": instance.shortcut or "", "body": instance.body}
        if instance
        else {}
    )
    form = CannedResponseForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            if instance is None:
                canned.create_canned_response(user=request.user, **values)
            else:
                canned.update_canned_response(canned=instance, user=request.user, **values)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("Canned response saved."))
            return redirect("inbox:canned-list")
    body = form["body"].value() or ""
    return render(
        request,
        "inbox/canned_form.html",
        {
            "form": form,
            "instance": instance,
            "tokens": canned.TOKENS,
            "preview": canned.render_canned(body),
        },
        status=400 if request.method == "POST" else 200,
    )


@require(Perm.MANAGE_KNOWLEDGE)
def canned_new(request: AuthedRequest) -> HttpResponse:
    return _canned_form_page(request, None)


@require(Perm.MANAGE_KNOWLEDGE)
def canned_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    return _canned_form_page(request, get_object_or_404(CannedResponse, pk=pk))


@require_POST
@require(Perm.MANAGE_KNOWLEDGE)
def canned_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    canned.delete_canned_response(canned=get_object_or_404(CannedResponse, pk=pk), user=request.user)
    messages.success(request, _("Canned response deleted."))
    return redirect("inbox:canned-list")


@require_POST
@require(Perm.MANAGE_KNOWLEDGE)
def canned_preview(request: AuthedRequest) -> HttpResponse:
    """htmx: the text with sample values, and any token problems, while the editor types."""
    body = request.POST.get("body", "")
    return render(
        request,
        "inbox/_canned_preview.html",
        {"preview": canned.render_canned(body), "problems": canned.token_errors(body)},
    )


@require(Perm.WORK_INBOX)
def canned_insert(request: AuthedRequest, pk: int) -> HttpResponse:
    """htmx: the reply box again, with the chosen canned response (by id or shortcut) filled in
    for this conversation and added after what the agent already wrote."""
    conversation = get_object_or_404(Conversation, pk=pk)
    wanted = request.GET.get("canned", "")
    shortcut = request.GET.get("shortcut", "").strip().lstrip("/").lower()
    found = (
        CannedResponse.objects.filter(pk=int(wanted)).first()
        if wanted.isdigit()
        else CannedResponse.objects.filter(shortcut=shortcut).first()
        if shortcut
        else None
    )
    current = request.GET.get("body", "").rstrip()
    problem = ""
    if found is None:
        problem = _("No canned response with the shortcut “%(shortcut)s”.") % {"shortcut": shortcut}
        text = current
    else:
        filled = canned.render_canned(found.body, conversation=conversation, agent=request.user)
        text = f"{current}\n\n{filled}" if current else filled
    return render(request, "inbox/_reply_box.html", {"reply_text": text, "canned_problem": problem})
