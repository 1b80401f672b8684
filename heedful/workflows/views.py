"""Workflow pages: list, editor, run history and log, event log, dry run, gallery."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.workflows import gallery, queries, services, transfer
from heedful.workflows.catalogue import EVENTS
from heedful.workflows.dryrun import dry_run
from heedful.workflows.forms import DryRunForm, ImportForm, WorkflowForm
from heedful.workflows.models import RunStatus, WorkflowDefinition, WorkflowRun
from heedful.workflows.outbox import webhook_key

PAGE_SIZE = 50

# Reading runs and the event log is for those who see decisions; changing workflows is
# for those who set policies (the owner), since workflows act on the owner's behalf.
VIEW = Perm.VIEW_DECISIONS
EDIT = Perm.MANAGE_POLICIES


@require(VIEW)
def workflow_list(request: AuthedRequest) -> HttpResponse:
    return render(request, "workflows/list.html", {"workflows": queries.workflows_with_counts()})


@require(EDIT)
@require_POST
def workflow_toggle(request: AuthedRequest, pk: int) -> HttpResponse:
    workflow = services.set_enabled(pk, enabled=request.POST.get("enabled") == "1", user=request.user)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "workflows/_toggle.html", {"workflow": workflow})
    return redirect("workflows:list")


@require(EDIT)
def workflow_new(request: AuthedRequest) -> HttpResponse:
    form = WorkflowForm(request.POST or None, initial={"document": _STARTER})
    if request.method == "POST" and form.is_valid():
        workflow = services.create_workflow(
            name=form.cleaned_data["name"],
            definition=form.cleaned_data["document"],
            description=form.cleaned_data["description"],
            user=request.user,
        )
        messages.success(request, _("Saved. The workflow is off until you turn it on."))
        return redirect("workflows:detail", pk=workflow.pk)
    return render(request, "workflows/edit.html", {"form": form, "catalogue": EVENTS})


@require(VIEW)
def workflow_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(WorkflowDefinition.objects.select_related("current_version"), pk=pk)
    status, about = request.GET.get("status", ""), request.GET.get("about", "").strip()[:100]
    runs = Paginator(queries.workflow_runs(workflow, status=status, about=about), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "workflow": workflow,
        "runs": runs.object_list,
        "page": runs,
        "run_filters": {"status": status, "about": about},
        "run_statuses": RunStatus.choices,
        "versions": workflow.versions.select_related("created_by")[:20],
        "document": transfer.dumps(transfer.to_document(workflow)),
        "webhook_key": webhook_key(workflow.slug).decode() if request.user.can(EDIT) else "",
    }
    return render(request, "workflows/detail.html", context)


@require(EDIT)
def workflow_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(WorkflowDefinition, pk=pk)
    initial = {
        "name": workflow.name,
        "description": workflow.description,
        "document": transfer.dumps(transfer.to_document(workflow)),
    }
    form = WorkflowForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            version = services.save_version(
                pk,
                definition=form.cleaned_data["document"],
                user=request.user,
                note=form.cleaned_data["note"],
            )
            WorkflowDefinition.objects.filter(pk=pk).update(
                name=form.cleaned_data["name"], description=form.cleaned_data["description"]
            )
        messages.success(
            request,
            _("Saved as version %(n)s. Runs already going keep their version.") % {"n": version.number},
        )
        return redirect("workflows:detail", pk=pk)
    return render(request, "workflows/edit.html", {"form": form, "workflow": workflow, "catalogue": EVENTS})


@require(EDIT)
@require_POST
def workflow_validate(request: AuthedRequest) -> HttpResponse:
    """htmx: check the document as it is typed and show every problem by its path."""
    form = WorkflowForm({"name": "-", "document": request.POST.get("document", "")})
    errors: list[str] = [str(e) for e in form.errors.get("document", [])] if not form.is_valid() else []
    return render(request, "workflows/_errors.html", {"errors": errors, "checked": True})


@require(VIEW)
def workflow_export(request: AuthedRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(WorkflowDefinition, pk=pk)
    fmt = "yaml" if request.GET.get("format") == "yaml" else "json"
    response = HttpResponse(
        transfer.dumps(transfer.to_document(workflow), fmt),
        content_type="application/yaml" if fmt == "yaml" else "application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="{workflow.slug}.{fmt}"'
    return response


@require(EDIT)
def workflow_import(request: AuthedRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        document = form.cleaned_data["document"]
        workflow = services.create_workflow(
            name=document.get("name") or _("Imported workflow"),
            definition=document["definition"],
            description=document.get("description", ""),
            user=request.user,
        )
        messages.success(request, _("Imported. The workflow is off until you turn it on."))
        return redirect("workflows:detail", pk=workflow.pk)
    return render(request, "workflows/import.html", {"form": form})


@require(EDIT)
def workflow_dry_run(request: AuthedRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(WorkflowDefinition.objects.select_related("current_version"), pk=pk)
    form = DryRunForm(request.GET or None)
    days = form.cleaned_data["days"] if form.is_valid() else 30
    definition = workflow.current_version.definition if workflow.current_version else {}
    report = dry_run(definition, days=days)
    return render(request, "workflows/dry_run.html", {"workflow": workflow, "report": report, "form": form})


@require(VIEW)
def run_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(WorkflowRun.objects.select_related("workflow", "version", "event"), pk=pk)
    context = {"run": run, "steps": queries.step_log(run), "why": queries.run_summary(run)}
    return render(request, "workflows/run_detail.html", context)


@require(EDIT)
@require_POST
def run_retry(request: AuthedRequest, pk: int) -> HttpResponse:
    try:
        services.retry_run(pk, user=request.user)
    except services.WorkflowStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Retrying from the step that failed."))
    return redirect("workflows:run-detail", pk=pk)


@require(EDIT)
@require_POST
def run_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    try:
        services.cancel_run(pk, user=request.user)
    except services.WorkflowStateError as exc:
        messages.error(request, str(exc))
    return redirect("workflows:run-detail", pk=pk)


@require(VIEW)
def event_log(request: AuthedRequest) -> HttpResponse:
    workflow_id = request.GET.get("workflow")
    about = request.GET.get("about", "").strip()[:100]
    events = queries.logged_events(
        name=request.GET.get("name", ""),
        workflow_id=int(workflow_id) if workflow_id and workflow_id.isdigit() else None,
        about=about,
    )
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "rows": queries.explain_events(list(page.object_list)),
        "page": page,
        "catalogue": EVENTS,
        "listened": queries.listened_events(),
        "name": request.GET.get("name", ""),
        "about": about,
        "workflow_id": workflow_id if workflow_id and workflow_id.isdigit() else "",
    }
    return render(request, "workflows/event_log.html", context)


@require(VIEW)
def gallery_list(request: AuthedRequest) -> HttpResponse:
    installed = set(
        WorkflowDefinition.objects.exclude(template_key="").values_list("template_key", flat=True)
    )
    return render(
        request, "workflows/gallery.html", {"templates": gallery.templates(), "installed": installed}
    )


@require(EDIT)
@require_POST
def gallery_install(request: AuthedRequest, key: str) -> HttpResponse:
    try:
        workflow = gallery.install_template(key, user=request.user)
    except KeyError:
        messages.error(request, _("There is no such template."))
        return redirect("workflows:gallery")
    messages.success(
        request,
        _(
            "Installed and on. Emails it sends wait in the approval queue "
            "unless you let workflow emails run on their own."
        ),
    )
    return redirect("workflows:detail", pk=workflow.pk)


_STARTER = """{
  "trigger": {"event": "order.shipped"},
  "steps": [
    {"id": "tell", "type": "action", "action": "send_email", "params": {
      "subject": "Your order {{ event.order.number }} is on its way",
      "body": "Hi {{ contact.first_name|default:\\"there\\" }}, it has shipped."
    }}
  ]
}
"""
