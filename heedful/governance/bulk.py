"""The trust spine for many at once: a campaign's thousand decisions and proposals in a few queries.

``propose_actions`` leaves exactly the rows that ``services.propose_action`` followed by an inline
``execute_action`` leaves for each action, one by one: the proposal (approved and run under an
``auto`` policy, pending in the approval queue under ``ask``, blocked under ``never``), the
decision record's outcome, the ``action.propose`` and ``action.execute`` / ``action.fail`` audit
events. It only writes them with one statement per kind instead of one per action. The caller's
transaction holds it all: rolled back, nothing of it was.

Auto-approved actions run here, inside that transaction, through the action type's
``execute_many`` when it has one (one proposal's failure is that proposal's ``failed`` status, the
others go on), else one by one through ``execute_action``. No execution task is queued: there is
nothing left for one to do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from heedful.db_bulk import insert_each, update_each
from heedful.governance.actions import ActionError, ActionOutcome, ActionType, get_action_type
from heedful.governance.models import (
    AuditEvent,
    DecisionRecord,
    PolicyMode,
    ProposalStatus,
    ProposedAction,
)
from heedful.governance.services import (
    NO_SUBJECT,
    Subject,
    execute_action,
    policy_for,
    propose_action,
    record_audit,
)

log = logging.getLogger(__name__)

_STATUS_FOR_POLICY = {
    PolicyMode.AUTO: ProposalStatus.APPROVED,
    PolicyMode.ASK: ProposalStatus.PENDING,
    PolicyMode.NEVER: ProposalStatus.BLOCKED,
}


@dataclass(frozen=True)
class Draft:
    """One action to propose: what ``propose_action`` takes besides the type and the proposer."""

    params: Mapping[str, Any]
    explanation: str
    subject: Subject = NO_SUBJECT
    decision: DecisionRecord | None = None
    idempotency_key: str | None = None


def record_decisions(decisions: Sequence[DecisionRecord]) -> list[DecisionRecord]:
    """Insert decision records made with ``record_decision(..., commit=False)``, in one statement."""
    rows = list(decisions)
    insert_each(rows)
    return rows


def propose_actions(
    *,
    action_type: str,
    drafts: Sequence[Draft],
    proposed_by: str,
    expires_in: timedelta | None = timedelta(days=7),
) -> list[ProposedAction]:
    """``propose_action`` + inline execution for each draft, in draft order, in a few queries."""
    kind = get_action_type(action_type)
    if not drafts:
        return []
    keys = [d.idempotency_key for d in drafts if d.idempotency_key]
    if len(set(keys)) != len(keys) or ProposedAction.objects.filter(idempotency_key__in=keys).exists():
        # Proposed before (a repeat): each returns its first proposal, as propose_action does.
        return _one_by_one(kind, drafts, proposed_by, expires_in)
    mode = policy_for(action_type)
    status = _STATUS_FOR_POLICY[PolicyMode(mode)]
    rows = [
        ProposedAction(
            action_type=action_type,
            params=dict(d.params),
            subject_type=d.subject.type,
            subject_id=d.subject.id,
            subject_label=d.subject.label,
            proposed_by=proposed_by,
            explanation=d.explanation,
            decision=d.decision,
            idempotency_key=d.idempotency_key,
            policy_mode=mode,
            status=status,
            expires_at=timezone.now() + expires_in
            if expires_in and status == ProposalStatus.PENDING
            else None,
        )
        for d in drafts
    ]
    try:
        # A savepoint: another proposer winning a key in the meantime must not spoil the caller's
        # transaction; the one-by-one path then returns the winner's proposals.
        with transaction.atomic():
            insert_each(rows)
    except IntegrityError:
        return _one_by_one(kind, drafts, proposed_by, expires_in)
    proposals = rows
    audits = [_proposed(kind, p) for p in proposals]
    if status == ProposalStatus.APPROVED:
        outcomes = _run_many(kind, proposals)
        if outcomes is None:
            return _run_one_by_one(proposals, audits)
        audits.extend(_settle_outcomes(proposals, outcomes))
    _save_outcomes(proposals)
    insert_each(audits)
    return proposals


def _proposed(kind: ActionType, proposal: ProposedAction) -> AuditEvent:
    """The ``action.propose`` audit row, and the decision's outcome as ``propose_action`` words it."""
    described = kind.describe(proposal.params)
    outcome = {
        ProposalStatus.APPROVED: f"Runs automatically by policy: {described}",
        ProposalStatus.PENDING: f"Waiting for approval (#{proposal.pk})",
        ProposalStatus.BLOCKED: f"Not run: the policy for {kind.label} is 'never'",
    }[ProposalStatus(proposal.status)]
    _set_outcome(proposal, outcome)
    return record_audit(
        action="action.propose",
        automation=proposal.proposed_by,
        obj=proposal,
        summary=f"{described} — {outcome}",
        commit=False,
    )


def _set_outcome(proposal: ProposedAction, outcome: str) -> None:
    decision = proposal.decision
    if decision is not None:
        decision.outcome = outcome[:300]
        decision.outcome_at = timezone.now()


def _run_many(kind: ActionType, proposals: list[ProposedAction]) -> list[ActionOutcome | ActionError] | None:
    """The handler's bulk form, in a savepoint; None when there is none or it broke (a bug)."""
    if kind.execute_many is None:
        return None
    try:
        with transaction.atomic():
            outcomes = kind.execute_many(proposals)
    except DatabaseError:
        raise  # the database is the problem: the caller's task retries the whole batch
    except Exception:
        # A bug in the bulk handler: its writes are rolled back, and each action runs on its
        # own, so a bad one fails visibly and alone.
        log.exception("Bulk handler of %s raised; running %s actions one by one", kind.name, len(proposals))
        return None
    if len(outcomes) != len(proposals):
        raise RuntimeError(f"{kind.name}.execute_many returned {len(outcomes)} outcomes for {len(proposals)}")
    return outcomes


def _settle_outcomes(
    proposals: list[ProposedAction], outcomes: list[ActionOutcome | ActionError]
) -> list[AuditEvent]:
    """Mark each proposal done or failed as ``execute_action`` does; returns their audit rows."""
    now = timezone.now()
    audits = []
    for proposal, outcome in zip(proposals, outcomes, strict=True):
        if isinstance(outcome, ActionError):
            proposal.status = ProposalStatus.FAILED
            proposal.error = str(outcome)
            _set_outcome(proposal, f"Failed: {outcome}")
            audits.append(_audit(proposal, "action.fail", str(outcome)))
            continue
        proposal.status = ProposalStatus.DONE
        proposal.executed_at = now
        proposal.execution_count = 1
        proposal.result = {"summary": outcome.summary, **outcome.result}
        proposal.undo_data = outcome.undo_data
        proposal.error = ""
        _set_outcome(proposal, f"Done: {outcome.summary}")
        audits.append(_audit(proposal, "action.execute", outcome.summary))
    update_each(proposals, ["status", "executed_at", "execution_count", "result", "undo_data", "error"])
    return audits


def _audit(proposal: ProposedAction, action: str, summary: str) -> AuditEvent:
    return record_audit(
        action=action, automation=proposal.proposed_by, obj=proposal, summary=summary, commit=False
    )


def _save_outcomes(proposals: list[ProposedAction]) -> None:
    decisions = [p.decision for p in proposals if p.decision is not None]
    if decisions:
        update_each(decisions, ["outcome", "outcome_at"])


def _run_one_by_one(proposals: list[ProposedAction], audits: list[AuditEvent]) -> list[ProposedAction]:
    """No bulk handler: the proposals are in, each runs through ``execute_action``."""
    _save_outcomes(proposals)
    insert_each(audits)
    for proposal in proposals:
        execute_action(proposal.pk)
    fresh = ProposedAction.objects.select_related("decision").in_bulk([p.pk for p in proposals])
    return [fresh[p.pk] for p in proposals]


def _one_by_one(
    kind: ActionType, drafts: Sequence[Draft], proposed_by: str, expires_in: timedelta | None
) -> list[ProposedAction]:
    proposals = []
    for d in drafts:
        proposal = propose_action(
            action_type=kind.name,
            params=d.params,
            explanation=d.explanation,
            proposed_by=proposed_by,
            subject=d.subject,
            decision=d.decision,
            expires_in=expires_in,
            idempotency_key=d.idempotency_key,
            run_inline=True,
        )
        proposals.append(proposal)
    return proposals
