"""Reads for the trust spine, shared by the pages and the API.

Each list function returns a queryset with its related rows already joined, so a
page costs the same number of queries for five rows as for fifty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext as _

from heedful.governance.actions import ActionError, ActionType, all_action_types, get_action_type
from heedful.governance.models import (
    ActionPolicy,
    AuditEvent,
    DecisionRecord,
    PolicyMode,
    ProposalStatus,
    ProposedAction,
)

RECENT_DECIDED = 20


@dataclass(frozen=True)
class Factor:
    """One reason behind a decision, ready to show: plain words, a signed weight, a bar length."""

    text: str
    weight: float | None
    # 0–100, relative to the heaviest factor of the same decision, for a <meter>.
    magnitude: int

    @property
    def raises(self) -> bool:
        return (self.weight or 0) >= 0


def explain_factors(factors: Iterable[Mapping[str, Any]]) -> list[Factor]:
    """Turn stored factors into display rows, heaviest first.

    Weights are relative to the heaviest factor because models disagree on scale
    (a rule says 1.0, a logistic model says 0.12); what a reader needs is which
    reason mattered most.

    >>> rows = explain_factors([{"text": "a", "weight": 0.2}, {"text": "b", "weight": -0.4}])
    >>> [(f.text, f.weight, f.magnitude) for f in rows]
    [('b', -0.4, 100), ('a', 0.2, 50)]
    """
    rows = []
    for factor in factors:
        raw = factor.get("weight")
        weight = float(raw) if isinstance(raw, int | float) else None
        rows.append((str(factor.get("text", "")), weight))
    heaviest = max((abs(w) for _t, w in rows if w is not None), default=0.0)
    explained = [
        Factor(text, weight, round(abs(weight) / heaviest * 100) if weight is not None and heaviest else 0)
        for text, weight in rows
    ]
    # Stable sort: equal weights keep the order the model gave them.
    return sorted(explained, key=lambda f: -abs(f.weight or 0))


# --- Decisions ----------------------------------------------------------------------------


def decisions(*, subject_type: str = "", subject_id: str = "", actor: str = "") -> QuerySet[DecisionRecord]:
    qs = DecisionRecord.objects.all()
    if subject_type:
        qs = qs.filter(subject_type=subject_type)
    if subject_id:
        qs = qs.filter(subject_id=subject_id)
    if actor:
        qs = qs.filter(actor_name=actor)
    return qs


def decision_actors() -> list[str]:
    """Every rule, model or bot that has decided something, for the filter's choices."""
    return list(DecisionRecord.objects.order_by("actor_name").values_list("actor_name", flat=True).distinct())


def decision_detail() -> QuerySet[DecisionRecord]:
    """Decisions with their proposals (and who decided them) loaded in one more query."""
    return DecisionRecord.objects.prefetch_related(
        Prefetch("proposals", queryset=ProposedAction.objects.select_related("decided_by", "undone_by"))
    )


# --- Audit log ----------------------------------------------------------------------------


def audit_events(
    *,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """Filter the audit log. Dates are whole days in the active (business) time zone, inclusive."""
    qs = AuditEvent.objects.all()
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if action:
        # A prefix, so "action." finds every approval-queue event.
        qs = qs.filter(action__startswith=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if since:
        qs = qs.filter(at__date__gte=since)
    if until:
        qs = qs.filter(at__date__lte=until)
    return qs


# --- Approvals ----------------------------------------------------------------------------


def proposals(*, status: str = "") -> QuerySet[ProposedAction]:
    qs = ProposedAction.objects.select_related("decision", "decided_by", "undone_by")
    if status:
        qs = qs.filter(status=status)
    return qs


@dataclass(frozen=True)
class ProposalRow:
    """A proposal with what its action type says about it, for one row of the queue."""

    proposal: ProposedAction
    label: str
    description: str
    editable: list[tuple[str, Any]]
    factors: list[Factor]
    undoable: bool

    @property
    def pk(self) -> int:
        return self.proposal.pk

    @property
    def is_pending(self) -> bool:
        return self.proposal.status == ProposalStatus.PENDING

    @property
    def tone(self) -> str:
        """The badge colour: ok, warn or bad (see app.css)."""
        return _TONES.get(self.proposal.status, "")


_TONES: dict[str, str] = {
    ProposalStatus.PENDING: "warn",
    ProposalStatus.APPROVED: "ok",
    ProposalStatus.DONE: "ok",
    ProposalStatus.EXPIRED: "warn",
    ProposalStatus.UNDONE: "warn",
    ProposalStatus.FAILED: "bad",
    ProposalStatus.REJECTED: "bad",
    ProposalStatus.BLOCKED: "bad",
}


def _known_kind(action_type: str) -> ActionType | None:
    try:
        return get_action_type(action_type)
    except ActionError:
        # The app that registered it was removed; the row still shows what was proposed.
        return None


def proposal_row(proposal: ProposedAction) -> ProposalRow:
    kind = _known_kind(proposal.action_type)
    return ProposalRow(
        proposal=proposal,
        label=str(kind.label) if kind else proposal.action_type,
        description=kind.describe(proposal.params) if kind else _("Unknown action type"),
        editable=[(name, proposal.params.get(name, "")) for name in kind.editable_params] if kind else [],
        factors=explain_factors(proposal.decision.factors) if proposal.decision else [],
        undoable=bool(kind and kind.undo and proposal.can_undo),
    )


@dataclass(frozen=True)
class PendingGroup:
    """Waiting proposals of one action type from one automation: what a bulk decision covers."""

    action_type: str
    label: str
    proposed_by: str
    count: int


def pending_proposals(*, action_type: str = "", proposed_by: str = "") -> QuerySet[ProposedAction]:
    """Waiting proposals, soonest deadline first, optionally of one type or one automation."""
    pending = proposals(status=ProposalStatus.PENDING)
    if action_type:
        pending = pending.filter(action_type=action_type)
    if proposed_by:
        pending = pending.filter(proposed_by=proposed_by)
    return pending.order_by("expires_at", "created_at", "id")


def pending_groups() -> list[PendingGroup]:
    """Waiting proposals counted by action type and automation, the largest group first."""
    counted = (
        ProposedAction.objects.filter(status=ProposalStatus.PENDING)
        .values("action_type", "proposed_by")
        .annotate(count=Count("id"))
        .order_by("-count", "action_type", "proposed_by")
    )
    groups = []
    for row in counted:
        kind = _known_kind(row["action_type"])
        label = str(kind.label) if kind else row["action_type"]
        groups.append(PendingGroup(row["action_type"], label, row["proposed_by"], row["count"]))
    return groups


def recently_decided(limit: int = RECENT_DECIDED) -> list[ProposalRow]:
    decided = (
        proposals()
        .exclude(status=ProposalStatus.PENDING)
        .order_by("-decided_at", "-created_at", "-id")[:limit]
    )
    return [proposal_row(p) for p in decided]


# --- Policies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    action_type: ActionType
    mode: str
    chosen: ActionPolicy | None

    @property
    def mode_label(self) -> str:
        return str(PolicyMode(self.mode).label)


def policy_rows(types: Sequence[ActionType] | None = None) -> list[PolicyRow]:
    """Every registered action type with the mode in force: the owner's choice, else the default."""
    chosen = {p.action_type: p for p in ActionPolicy.objects.select_related("updated_by")}
    return [
        PolicyRow(
            kind,
            chosen[kind.name].mode if kind.name in chosen else kind.default_policy,
            chosen.get(kind.name),
        )
        for kind in (types if types is not None else all_action_types())
    ]
