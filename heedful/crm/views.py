"""Contact pages: list and search, detail with the timeline, edit, notes, CSV import and export,
and erasure on request.

Search and pagination swap only the results with htmx; every link and form also works as
plain HTML.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.crm import import_jobs, queries, services
from heedful.crm.forms import ContactForm, ImportForm, NoteForm, SearchForm
from heedful.crm.models import Contact, ContactImport, Tag

PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 100


def _htmx_target(request: HttpRequest) -> str:
    htmx = getattr(request, "htmx", None)
    return str(htmx.target or "") if htmx else ""


def _add_service_error(form: Form, exc: ValidationError) -> None:
    # Errors keyed by a field the form lacks still reach the person, at the top of the form.
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _contact(pk: int) -> Contact:
    return get_object_or_404(Contact.objects.select_related("company").prefetch_related("tags"), pk=pk)


@require(Perm.VIEW_CONTACTS)
def contact_list(request: AuthedRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    form.is_valid()
    q, tag = form.cleaned_data.get("q", ""), form.cleaned_data.get("tag", "")
    page = Paginator(queries.search_contacts(q, tag=tag or None), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "q": q,
        "tag": tag,
        "tags": Tag.objects.values_list("name", flat=True),
    }
    if _htmx_target(request) == "contact-results":
        return render(request, "crm/_contact_results.html", context)
    return render(request, "crm/contact_list.html", context)


@require(Perm.VIEW_CONTACTS)
def contact_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    contact = _contact(pk)
    return render(
        request,
        "crm/contact_detail.html",
        {
            "contact": contact,
            **_timeline_page(contact, request.GET.get("timeline_page")),
            "note_form": NoteForm(),
        },
    )


def _timeline_page(contact: Contact, number: str | None = None) -> dict[str, Any]:
    """One page of the contact's timeline, newest first; older pages stay reachable."""
    page = Paginator(queries.timeline_for(contact), TIMELINE_PAGE_SIZE).get_page(number)
    return {"timeline": page.object_list, "timeline_page": page}


@require(Perm.EDIT_CONTACTS)
def contact_create(request: AuthedRequest) -> HttpResponse:
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.create_contact(user=request.user, source="manual", **form.cleaned_data)
        except ValidationError as exc:
            _add_service_error(form, exc)
        else:
            messages.success(request, _("Contact %(name)s created.") % {"name": contact})
            return redirect("crm:contact-detail", pk=contact.pk)
    return render(request, "crm/contact_form.html", {"form": form, "contact": None})


@require(Perm.EDIT_CONTACTS)
def contact_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    contact = _contact(pk)
    form = ContactForm(request.POST or None, initial=ContactForm.initial_for(contact))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_contact(contact, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_service_error(form, exc)
        else:
            messages.success(request, _("Contact %(name)s saved.") % {"name": contact})
            return redirect("crm:contact-detail", pk=contact.pk)
    return render(request, "crm/contact_form.html", {"form": form, "contact": contact})


@require(Perm.EDIT_CONTACTS)
@require_POST
def note_add(request: AuthedRequest, pk: int) -> HttpResponse:
    contact = _contact(pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.add_note(contact=contact, user=request.user, body=form.cleaned_data["body"])
        except ValidationError as exc:
            _add_service_error(form, exc)
        else:
            form = NoteForm()
    if _htmx_target(request) == "contact-notes":
        context = {"contact": contact, **_timeline_page(contact), "note_form": form}
        return render(request, "crm/_notes_and_timeline.html", context)
    if form.errors:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("crm:contact-detail", pk=contact.pk)


@require(Perm.IMPORT_CONTACTS)
def contact_import(request: AuthedRequest) -> HttpResponse:
    """The upload; the worker imports it and its page shows the report (``import_jobs``)."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = import_jobs.queue_contact_import(
            file=form.cleaned_data["file"],
            user=request.user,
            all_or_nothing=form.cleaned_data["mode"] == ImportForm.ALL_OR_NOTHING,
        )
        return redirect("crm:contact-import-status", pk=job.pk)
    recent = ContactImport.objects.defer("content").select_related("created_by")[:10]
    return render(request, "crm/contact_import.html", {"form": form, "recent": recent})


@require(Perm.IMPORT_CONTACTS)
def contact_import_status(request: AuthedRequest, pk: int) -> HttpResponse:
    """One import: waiting, running, or its report. htmx polls it until it is finished."""
    job = get_object_or_404(ContactImport.objects.defer("content"), pk=pk)
    template = (
        "crm/_import_status.html" if getattr(request, "htmx", False) else "crm/contact_import_status.html"
    )
    return render(request, template, {"job": job, "report": job.report or None})


@require(Perm.IMPORT_CONTACTS)
def contact_export(request: AuthedRequest) -> HttpResponse:
    # Exporting the customer list is a bulk copy of personal data: managers only, and audited.
    form = SearchForm(request.GET)
    form.is_valid()
    contacts = queries.search_contacts(
        form.cleaned_data.get("q", ""), tag=form.cleaned_data.get("tag") or None
    )
    response: HttpResponseBase = StreamingHttpResponse(
        services.start_contact_export(queryset=contacts, user=request.user),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="contacts.csv"'
    return response  # type: ignore[return-value]  # streamed: the typed decorator wants HttpResponse


@require(Perm.ERASE_CONTACTS)
def contact_erase(request: AuthedRequest, pk: int) -> HttpResponse:
    """GET: what erasing the contact removes, counted. POST: erase it (no undo)."""
    contact = _contact(pk)
    if request.method == "POST":
        report = services.erase_contact(contact=contact, user=request.user)
        messages.success(
            request,
            _("Contact #%(id)d erased: %(rows)d records removed or anonymised.")
            % {"id": report.contact_id, "rows": report.total},
        )
        return redirect("crm:contact-list")
    preview = services.erasure_preview(contact)
    rows = [
        (kind.partition(".")[2].replace("_", " "), kind.partition(".")[0], count)
        for kind, count in preview.rows.items()
        if count
    ]
    return render(request, "crm/contact_erase.html", {"contact": contact, "rows": rows})
