"""Knowledge-base pages: the entries, the ones needing attention, CSV import, public articles."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.csv_files import workbook_instead_of_csv
from heedful.knowledge import matching, queries, services
from heedful.knowledge.forms import BotCautionForm, FaqEntryForm, UncoveredQuestionForm
from heedful.knowledge.models import Article, FaqEntry, UncoveredQuestion


@require(Perm.WORK_INBOX)
def entry_list(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "knowledge/entry_list.html",
        {
            "entries": FaqEntry.objects.select_related("article"),
            "attention": queries.needing_attention(),
            "shared": queries.shared_phrasings(),
            "calibration": matching.bot_calibration(),
            "caution_form": BotCautionForm(initial={"wrong_answers_per_100": queries.bot_caution()}),
            "threshold": queries.HAND_ANSWER_THRESHOLD,
            "uncovered": UncoveredQuestion.objects.select_related("added_by", "wrongly_answered_with"),
            "uncovered_form": UncoveredQuestionForm(),
        },
    )


@require(Perm.MANAGE_KNOWLEDGE)
def entry_create(request: AuthedRequest) -> HttpResponse:
    form = FaqEntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        entry = services.create_faq_entry(user=request.user, **form.service_arguments())
        messages.success(request, _("Entry “%(question)s” added.") % {"question": entry.question})
        return redirect("knowledge:entry-list")
    return render(request, "knowledge/entry_form.html", {"form": form, "entry": None})


@require(Perm.MANAGE_KNOWLEDGE)
def entry_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(FaqEntry, pk=pk)
    form = FaqEntryForm(request.POST or None, initial=FaqEntryForm.initial_for(entry))
    if request.method == "POST" and form.is_valid():
        services.update_faq_entry(entry=entry, user=request.user, **form.service_arguments())
        messages.success(request, _("Entry “%(question)s” saved.") % {"question": entry.question})
        return redirect("knowledge:entry-list")
    return render(request, "knowledge/entry_form.html", {"form": form, "entry": entry})


@require(Perm.MANAGE_KNOWLEDGE)
def entry_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    """GET asks to confirm (the page's scripts may not run inline), POST deletes."""
    entry = get_object_or_404(FaqEntry, pk=pk)
    if request.method != "POST":
        return render(request, "knowledge/entry_delete.html", {"entry": entry})
    question = entry.question
    services.delete_faq_entry(entry=entry, user=request.user)
    messages.success(
        request,
        _("Entry “%(question)s” deleted; the audit log keeps what it said.") % {"question": question},
    )
    return redirect("knowledge:entry-list")


@require_POST
@require(Perm.MANAGE_POLICIES)
def bot_caution(request: AuthedRequest) -> HttpResponse:
    """The owner decides how careful the bot is (promise 3: people stay in charge)."""
    form = BotCautionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the offered levels."))
        return redirect("knowledge:entry-list")
    wrong = form.cleaned_data["wrong_answers_per_100"]
    if wrong == queries.bot_caution():
        messages.info(request, _("Nothing changed."))
        return redirect("knowledge:entry-list")
    services.set_bot_caution(wrong_answers_per_100=wrong, user=request.user)
    messages.success(
        request,
        _(
            "From now on at most %(wrong)s in 100 of the bot's answers may be wrong. It is "
            "relearning: the next question waits until it has (seconds for a small knowledge base)."
        )
        % {"wrong": wrong},
    )
    return redirect(f"{reverse('knowledge:entry-list')}#bot-calibration")


@require_POST
@require(Perm.MANAGE_KNOWLEDGE)
def uncovered_add(request: AuthedRequest) -> HttpResponse:
    form = UncoveredQuestionForm(request.POST)
    back = f"{reverse('knowledge:entry-list')}#uncovered"
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back)
    try:
        question = services.mark_not_covered(text=form.cleaned_data["text"], user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    messages.success(
        request,
        _("The bot hands “%(text)s” and questions like it to a person once it has relearnt.")
        % {"text": question.text},
    )
    return redirect(back)


@require_POST
@require(Perm.MANAGE_KNOWLEDGE)
def uncovered_remove(request: AuthedRequest, pk: int) -> HttpResponse:
    question = get_object_or_404(UncoveredQuestion, pk=pk)
    services.forget_not_covered(question=question, user=request.user)
    messages.success(
        request, _("“%(text)s” is off the list; the bot may answer it again.") % {"text": question.text}
    )
    return redirect(f"{reverse('knowledge:entry-list')}#uncovered")


# Read whole into memory to parse: a limit, like the contact import's.
MAX_FAQ_CSV_BYTES = 10 * 1024 * 1024


@require_POST
@require(Perm.MANAGE_KNOWLEDGE)
def import_csv(request: AuthedRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a CSV file first."))
        return redirect("knowledge:entry-list")
    if upload.size is not None and upload.size > MAX_FAQ_CSV_BYTES:
        messages.error(request, _("The file is larger than 10 MB. Split it into smaller files."))
        return redirect("knowledge:entry-list")
    raw = upload.read()
    workbook = workbook_instead_of_csv(raw[:8])
    if workbook:
        messages.error(request, workbook)
        return redirect("knowledge:entry-list")
    try:
        count = services.import_faq_csv(text=raw.decode("utf-8-sig"), user=request.user)
    except UnicodeDecodeError:
        messages.error(request, _("The file is not a UTF-8 CSV with question and answer columns."))
        return redirect("knowledge:entry-list")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("knowledge:entry-list")
    messages.success(request, _("%(count)s entries imported.") % {"count": count})
    shared = len(queries.shared_phrasings())
    if shared:
        messages.warning(
            request,
            _(
                "%(count)s phrasing(s) now belong to more than one entry; the bot hands such "
                "questions to a person. See “Needs attention”."
            )
            % {"count": shared},
        )
    return redirect("knowledge:entry-list")


def article(request: HttpRequest, slug: str) -> HttpResponse:
    """Public: the page an answer's "Read more" link opens for a customer."""
    return render(request, "knowledge/article.html", {"article": get_object_or_404(Article, slug=slug)})
