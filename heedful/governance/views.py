"""Pages of the trust spine: the approval queue, decision records, the audit log, policies.

Every action is a real ``<form method="post">``; with htmx the proposal swaps in place,
without it the browser follows a redirect back to the queue.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.governance import queries, services
from heedful.governance.actions import ActionError
from heedful.governance.forms import (
    AuditFilterForm,
    DecisionFilterForm,
    EditParamsForm,
    PolicyForm,
    RejectForm,
)
from heedful.governance.models import AuditEvent, PolicyMode, ProposedAction

PAGE_SIZE = 50


def _base_template(request: HttpRequest) -> str:
    # An htmx request (a filter or a page link) swaps only the content, not the whole layout.
    return "governance/_partial.html" if getattr(request, "htmx", False) else "base.html"


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _item(
    row: queries.ProposalRow,
    *,
    edit_form: EditParamsForm | None = None,
    reject_form: RejectForm | None = None,
    error: str = "",
    notice: str = "",
) -> dict[str, Any]:
    """What one proposal card needs; the forms get ids unique to the card."""
    return {
        "row": row,
        "edit_form": edit_form or EditParamsForm(row.editable, auto_id=f"id_edit_{row.pk}_%s"),
        "reject_form": reject_form or RejectForm(auto_id=f"id_reject_{row.pk}_%s"),
        "error": error,
        "notice": notice,
    }


def _after_decision(
    request: HttpRequest, pk: int, *, error: str = "", notice: str = "", **forms: Any
) -> HttpResponse:
    """htmx: the card again, in its new state. Without JS: back to the queue with a message."""
    if getattr(request, "htmx", False):
        row = queries.proposal_row(queries.proposals().get(pk=pk))
        return render(
            request,
            "governance/_proposal.html",
            {"item": _item(row, error=error, notice=notice, **forms), "tickable": True},
        )
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect("governance:approval-list")


APPROVALS_PAGE_SIZE = 25


def _queue_filters(data: QueryDict) -> dict[str, str]:
    """The group a queue page shows: one action type and/or one automation, or everything."""
    return {"action_type": data.get("type", "")[:100], "proposed_by": data.get("by", "")[:200]}


def _queue_url(filters: dict[str, str]) -> str:
    wanted = {"type": filters["action_type"], "by": filters["proposed_by"]}
    query = urlencode({key: value for key, value in wanted.items() if value})
    return reverse("governance:approval-list") + (f"?{query}" if query else "")


@require(Perm.DECIDE_APPROVALS)
def approval_list(request: AuthedRequest) -> HttpResponse:
    filters = _queue_filters(request.GET)
    pending = queries.pending_proposals(**filters)
    page = Paginator(pending, APPROVALS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "governance/approval_list.html",
        {
            "page": page,
            "pending": [_item(queries.proposal_row(p)) for p in page.object_list],
            "groups": queries.pending_groups(),
            "filters": filters,
            "filtered": any(filters.values()),
            # Not "required" in the browser: the same form also carries the approve button.
            "reject_form": RejectForm(auto_id="id_bulk_%s", use_required_attribute=False),
            "max_together": services.MAX_DECIDED_TOGETHER,
            "recent": [] if any(filters.values()) else [_item(r) for r in queries.recently_decided()],
        },
    )


@require(Perm.DECIDE_APPROVALS)
@require_POST
def approval_decide_many(request: AuthedRequest) -> HttpResponse:
    """The ticked proposals, approved or rejected together; back to the same group."""
    back = _queue_url(_queue_filters(request.POST))
    ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()]
    if not ids:
        messages.error(request, _("Tick the proposals to decide first."))
        return redirect(back)
    approve = request.POST.get("decision") == "approve"
    try:
        result = services.decide_actions(
            ids, user=request.user, approve=approve, reason=request.POST.get("reason", "")
        )
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    if result.decided:
        done = (
            ngettext(
                "Approved %(n)d proposal: it runs in a moment.",
                "Approved %(n)d proposals: they run in a moment.",
                len(result.decided),
            )
            if approve
            else ngettext("Rejected %(n)d proposal.", "Rejected %(n)d proposals.", len(result.decided))
        )
        messages.success(request, done % {"n": len(result.decided)})
    if result.skipped:
        shown = [f"#{pk}: {why}" for pk, why in list(result.skipped.items())[:5]]
        more = len(result.skipped) - len(shown)
        messages.warning(
            request,
            ngettext(
                "%(n)d proposal was left as it was. %(which)s",
                "%(n)d proposals were left as they were. %(which)s",
                len(result.skipped),
            )
            % {
                "n": len(result.skipped),
                "which": " ".join(shown) + (_(" And %d more.") % more if more else ""),
            },
        )
    return redirect(back)


@require(Perm.DECIDE_APPROVALS)
@require_POST
def approval_approve(request: AuthedRequest, pk: int) -> HttpResponse:
    proposal = get_object_or_404(ProposedAction, pk=pk)
    edited = None
    if request.POST.get("edit"):
        # Edit-then-approve: the form lists the action type's editable details.
        form = EditParamsForm(
            queries.proposal_row(proposal).editable, request.POST, auto_id=f"id_edit_{pk}_%s"
        )
        if not form.is_valid():
            return _after_decision(request, pk, error=_("Check the details you edited."), edit_form=form)
        edited = form.edited_params(proposal.params)
    try:
        services.approve_action(pk, user=request.user, edited_params=edited)
    except (services.ProposalStateError, ActionError) as exc:
        return _after_decision(request, pk, error=str(exc))
    return _after_decision(request, pk, notice=_("Decision saved: the action runs in a moment."))


@require(Perm.DECIDE_APPROVALS)
@require_POST
def approval_reject(request: AuthedRequest, pk: int) -> HttpResponse:
    get_object_or_404(ProposedAction, pk=pk)
    form = RejectForm(request.POST, auto_id=f"id_reject_{pk}_%s")
    if not form.is_valid():
        return _after_decision(request, pk, error=_("Say why the action is rejected."), reject_form=form)
    try:
        services.reject_action(pk, user=request.user, reason=form.cleaned_data["reason"])
    except (services.ProposalStateError, ActionError) as exc:
        return _after_decision(request, pk, error=str(exc))
    return _after_decision(request, pk, notice=_("Decision saved: the action will not run."))


@require(Perm.UNDO_ACTIONS)
@require_POST
def approval_undo(request: AuthedRequest, pk: int) -> HttpResponse:
    get_object_or_404(ProposedAction, pk=pk)
    try:
        services.undo_action(pk, user=request.user)
    except (services.ProposalStateError, ActionError) as exc:
        return _after_decision(request, pk, error=str(exc))
    return _after_decision(request, pk, notice=_("Undone."))


@require(Perm.VIEW_DECISIONS)
def decision_list(request: AuthedRequest) -> HttpResponse:
    form = DecisionFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(queries.decisions(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "base_template": _base_template(request)}
    return render(request, "governance/decision_list.html", context)


@require(Perm.VIEW_DECISIONS)
def decision_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    decision = get_object_or_404(queries.decision_detail(), pk=pk)
    services.record_decision_read(decision, user=request.user, ip_address=_client_ip(request))
    context = {
        "decision": decision,
        "factors": queries.explain_factors(decision.factors),
        "proposals": [queries.proposal_row(p) for p in decision.proposals.all()],
    }
    return render(request, "governance/decision_detail.html", context)


# Reads of the log itself are not audited: only the owner may read it, so an event saying
# "the owner read the log" would be news to nobody and would bury the events that matter.
# Reads about a person (a decision whose subject is an employee) are audited; see
# services.record_decision_read.
@require(Perm.VIEW_AUDIT_LOG)
def audit_list(request: AuthedRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    events = queries.audit_events(**form.cleaned_data) if form.is_valid() else AuditEvent.objects.none()
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "base_template": _base_template(request)}
    return render(request, "governance/audit_list.html", context)


@require(Perm.MANAGE_POLICIES)
def policy_list(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            services.set_action_policy(user=request.user, **form.cleaned_data)
            messages.success(request, _("Policy saved."))
        else:
            messages.error(request, _("Choose one of the listed policies."))
        return redirect("governance:policy-list")
    return render(
        request, "governance/policy_list.html", {"rows": queries.policy_rows(), "modes": PolicyMode.choices}
    )
