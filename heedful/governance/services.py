"""Writes for the trust spine: record decisions, audit, propose / approve / run / undo actions."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from heedful.governance.actions import ActionError, get_action_type
from heedful.governance.models import (
    ERASED,
    ActionPolicy,
    AuditEvent,
    DecisionRecord,
    PolicyMode,
    ProposalStatus,
    ProposedAction,
)

if TYPE_CHECKING:
    from heedful.accounts.models import User

log = logging.getLogger(__name__)


class ProposalStateError(Exception):
    """The proposal is no longer in a state that allows this (someone else got there first)."""


SUBJECT_LABEL_MAX = 200


@dataclass(frozen=True)
class Subject:
    """Whom a decision or action is about: a contact, an employee, …"""

    type: str
    id: str
    label: str

    def __post_init__(self) -> None:
        # Every table keeps 200 characters of the label. A longer one (a 254-character email
        # address is valid) failed the customer's whole message on PostgreSQL, which, unlike
        # SQLite, enforces the length.
        object.__setattr__(self, "label", self.label[:SUBJECT_LABEL_MAX])

    @classmethod
    def of(cls, obj: models.Model, type_: str | None = None) -> Subject:
        return cls(type=type_ or obj._meta.model_name or "", id=str(obj.pk), label=str(obj))


NO_SUBJECT = Subject("", "", "")


def record_audit(
    *,
    action: str,
    user: User | None = None,
    automation: str = "",
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    summary: str = "",
    changes: Mapping[str, Any] | None = None,
    ip_address: str | None = None,
    commit: bool = True,
) -> AuditEvent:
    """Append one event to the audit log. Either a user or an automation is the actor.

    With ``commit=False`` the row is returned unsaved, for a bulk insert (``governance.bulk``).
    """
    if obj is not None:
        object_type = object_type or (obj._meta.model_name or "")
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    if user is not None:
        actor_label = user.email
    elif automation:
        actor_label = automation
    else:
        actor_label = "system"
    event = AuditEvent(
        actor_user=user,
        actor_label=actor_label,
        actor_automation=automation,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        summary=summary,
        changes=dict(changes or {}),
        ip_address=ip_address,
    )
    if commit:
        event.save()
    return event


@transaction.atomic
def redact_audit_events(*, object_type: str, object_ids: Sequence[str | int], dry_run: bool = False) -> int:
    """Take an erased person's data out of the audit events about these objects; how many events.

    For an erasure (promise 4), and the only way an audit event ever changes: the object's name
    becomes ``"<type> #<id> (erased)"``, the summary (if any) and each value in ``changes``
    ``"(erased)"``;
    who, when, the action, the object's type and id stay (see ``AuditEvent``'s queryset). With
    ``dry_run`` it only counts, for the erasure's preview.

    Example: ``redact_audit_events(object_type="contact", object_ids=[12])`` turns "Changed email
    of Rosa Diaz", ``{"email": ["rosa@a.test", "rosa@b.test"]}`` into "(erased)",
    ``{"email": "(erased)"}``, its object into "contact #12 (erased)", and returns 1.
    """
    ids = sorted({str(i) for i in object_ids})
    if not object_type or not ids:
        return 0
    redacted = 0
    for start in range(0, len(ids), 500):  # SQLite caps the parameters of one statement
        events = AuditEvent.objects.filter(object_type=object_type, object_id__in=ids[start : start + 500])
        redacted += events.count() if dry_run else events._redact_for_erasure()
    return redacted


_DECISION_FIELDS = ("subject_label", "inputs", "output", "output_summary", "factors", "outcome")
_PROPOSAL_FIELDS = (
    "subject_label",
    "params",
    "explanation",
    "decision_reason",
    "original_params",
    "result",
    "error",
    "undo_data",
)


def _erased(value: Any) -> Any:
    """``value`` with nothing said left: text becomes ``"(erased)"``; a JSON object keeps its keys.

    Empty stays empty (nothing was said, so nothing is claimed erased). In a list, each object
    keeps its keys too (a decision's factors stay ``[{"text": "(erased)", "weight": "(erased)"}]``):
    which fields there were says nothing about the person, every value may (an order number, an
    amount, a message's words).
    """
    if isinstance(value, dict):
        return dict.fromkeys(value, ERASED)
    if isinstance(value, list):
        return [_erased(item) if isinstance(item, dict) else ERASED for item in value]
    return value if value is None or value == "" else ERASED


@dataclass(frozen=True)
class Scrubbed:
    """Rows scrubbed (or, in a dry run, to scrub) by ``scrub_decisions_and_proposals``."""

    decisions: int
    proposals: int


@transaction.atomic
def scrub_decisions_and_proposals(
    *, subject_type: str, subject_ids: Sequence[str | int], dry_run: bool = False
) -> Scrubbed:
    """Take an erased person out of the decisions and proposals about these subjects.

    For an erasure (promise 4). The rows stay, with what promise 2 needs of them: which
    automation or model decided (``actor_*``, ``proposed_by``, ``action_type``), with what
    confidence, when, the proposal's status and who approved, rejected or undid it, when. Every
    other text becomes ``"(erased)"`` and every JSON payload keeps its keys with ``"(erased)"``
    values (see ``_erased``): the subject's label, a decision's inputs, output, summary, factors
    and outcome ("Rejected by ana@…: Rosa asked us not to"), a proposal's params, explanation,
    reason, result and error. A done proposal can no longer be undone (``undo_data`` goes: what
    it would restore was the person's). With ``dry_run`` it only counts, for the preview.

    Example: a proposal about contact 12 with ``{"contact_id": 12, "body": "Call Rosa"}`` and
    explanation "Rosa asked for it" keeps ``{"contact_id": "(erased)", "body": "(erased)"}`` and
    "(erased)"; ``Scrubbed(decisions=0, proposals=1)``. Scrubbing twice changes nothing more.
    """
    ids = sorted({str(i) for i in subject_ids})
    if not subject_type or not ids:
        return Scrubbed(decisions=0, proposals=0)
    return Scrubbed(
        decisions=_scrub(
            DecisionRecord.objects.filter(subject_type=subject_type), "subject_id", ids, dry_run=dry_run
        ),
        proposals=_scrub(
            ProposedAction.objects.filter(subject_type=subject_type), "subject_id", ids, dry_run=dry_run
        ),
    )


@transaction.atomic
def scrub_records(
    *, decision_ids: Sequence[int], proposal_ids: Sequence[int], dry_run: bool = False
) -> Scrubbed:
    """``scrub_decisions_and_proposals`` for these rows only, whatever they are about.

    For records that named an erased person about an object that is not theirs: a workflow run
    started by an event naming her about a company decides and proposes about the company, and
    the company's other records, which never named her, keep what they say.
    """
    return Scrubbed(
        decisions=_scrub(DecisionRecord.objects.all(), "pk", sorted(set(decision_ids)), dry_run=dry_run),
        proposals=_scrub(ProposedAction.objects.all(), "pk", sorted(set(proposal_ids)), dry_run=dry_run),
    )


_Scrubbable = TypeVar("_Scrubbable", DecisionRecord, ProposedAction)
_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    DecisionRecord: _DECISION_FIELDS,
    ProposedAction: _PROPOSAL_FIELDS,
}


def _scrub(rows_of: QuerySet[_Scrubbable], key: str, ids: Sequence[str | int], *, dry_run: bool) -> int:
    model, fields = rows_of.model, _FIELDS[rows_of.model]
    found = 0
    for start in range(0, len(ids), 500):  # SQLite caps the parameters of one statement
        about = rows_of.filter(**{f"{key}__in": ids[start : start + 500]})
        if dry_run:
            found += about.count()
            continue
        rows = list(about.only("pk", *fields))
        for row in rows:
            for name in fields:
                setattr(row, name, _erased(getattr(row, name)))
            # Always, as before: the subject had a name even where none was stored.
            row.subject_label = ERASED
            if isinstance(row, ProposedAction):
                row.undo_data = None
        model.objects.bulk_update(rows, fields, batch_size=200)
        found += len(rows)
    return found


def record_decision(
    *,
    actor_kind: str,
    actor_name: str,
    actor_version: str = "",
    subject: Subject = NO_SUBJECT,
    inputs: Mapping[str, Any] | None = None,
    output: Mapping[str, Any] | None = None,
    output_summary: str,
    confidence: float | None = None,
    factors: Sequence[Mapping[str, Any]] = (),
    outcome: str = "",
    commit: bool = True,
) -> DecisionRecord:
    """Write down one automated decision with its reasons (promise 2).

    With ``commit=False`` the row is returned unsaved, for a bulk insert (``governance.bulk``).
    """
    decision = DecisionRecord(
        actor_kind=actor_kind,
        actor_name=actor_name,
        actor_version=actor_version,
        subject_type=subject.type,
        subject_id=subject.id,
        subject_label=subject.label,
        inputs=dict(inputs or {}),
        output=dict(output or {}),
        output_summary=output_summary[:300],
        confidence=confidence,
        factors=[dict(f) for f in factors],
        outcome=outcome[:300],
        outcome_at=timezone.now() if outcome else None,
    )
    if commit:
        decision.save()
    return decision


def set_decision_outcome(decision: DecisionRecord | None, outcome: str) -> None:
    if decision is None:
        return
    decision.outcome = outcome[:300]
    decision.outcome_at = timezone.now()
    decision.save(update_fields=["outcome", "outcome_at"])


def policy_for(action_type: str) -> str:
    chosen = ActionPolicy.objects.filter(action_type=action_type).values_list("mode", flat=True).first()
    return chosen or get_action_type(action_type).default_policy


@transaction.atomic
def set_action_policy(*, action_type: str, mode: str, user: User) -> ActionPolicy:
    get_action_type(action_type)  # refuses unknown types
    if mode not in PolicyMode.values:
        raise ActionError(f"Unknown policy {mode!r}")
    before = policy_for(action_type)
    policy, _ = ActionPolicy.objects.update_or_create(
        action_type=action_type, defaults={"mode": mode, "updated_by": user}
    )
    record_audit(
        action="policy.change",
        user=user,
        object_type="action_policy",
        object_id=action_type,
        object_repr=action_type,
        summary=f"Policy for {action_type}: {before} → {mode}",
        changes={"mode": [before, mode]},
    )
    return policy


def _enqueue_execution(proposal_id: int) -> None:
    from heedful.governance.tasks import execute_action_task

    transaction.on_commit(lambda: execute_action_task.delay(proposal_id))


@transaction.atomic
def propose_action(
    *,
    action_type: str,
    params: Mapping[str, Any],
    explanation: str,
    proposed_by: str,
    subject: Subject = NO_SUBJECT,
    decision: DecisionRecord | None = None,
    expires_in: timedelta | None = timedelta(days=7),
    idempotency_key: str | None = None,
    run_inline: bool = False,
) -> ProposedAction:
    """Propose an action; the policy decides whether it runs, waits for a person, or is blocked.

    Proposing twice with the same ``idempotency_key`` returns the first proposal.
    An approved action runs later in a task; with ``run_inline`` it runs here instead, in
    the caller's transaction, so it commits (or rolls back) together with the caller's
    work and no task is queued for it (the workflow engine's action steps).
    """
    kind = get_action_type(action_type)
    if idempotency_key:
        existing = ProposedAction.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    mode = policy_for(action_type)
    status = {
        PolicyMode.AUTO: ProposalStatus.APPROVED,
        PolicyMode.ASK: ProposalStatus.PENDING,
        PolicyMode.NEVER: ProposalStatus.BLOCKED,
    }[PolicyMode(mode)]
    try:
        # A savepoint, so that losing a race on the idempotency key leaves the caller's
        # transaction usable.
        with transaction.atomic():
            proposal = ProposedAction.objects.create(
                action_type=action_type,
                params=dict(params),
                subject_type=subject.type,
                subject_id=subject.id,
                subject_label=subject.label,
                proposed_by=proposed_by,
                explanation=explanation,
                decision=decision,
                idempotency_key=idempotency_key,
                policy_mode=mode,
                status=status,
                expires_at=timezone.now() + expires_in
                if expires_in and status == ProposalStatus.PENDING
                else None,
            )
    except IntegrityError:
        if not idempotency_key:
            raise
        return ProposedAction.objects.get(idempotency_key=idempotency_key)
    outcome = {
        ProposalStatus.APPROVED: f"Runs automatically by policy: {kind.describe(params)}",
        ProposalStatus.PENDING: f"Waiting for approval (#{proposal.pk})",
        ProposalStatus.BLOCKED: f"Not run: the policy for {kind.label} is 'never'",
    }[status]
    set_decision_outcome(decision, outcome)
    record_audit(
        action="action.propose",
        automation=proposed_by,
        obj=proposal,
        summary=f"{kind.describe(params)} — {outcome}",
    )
    if status == ProposalStatus.APPROVED:
        if run_inline:
            # Nothing is left to run after this, so queue nothing: a task would only find it
            # done. Rolled back with the caller, the proposal is gone as well.
            execute_action(proposal.pk)
            proposal.refresh_from_db()
        else:
            _enqueue_execution(proposal.pk)
    return proposal


def _transition(proposal_id: int, from_status: str, **changes: Any) -> bool:
    """Move a proposal out of ``from_status`` only if nobody else already did."""
    return ProposedAction.objects.filter(pk=proposal_id, status=from_status).update(**changes) == 1


@transaction.atomic
def approve_action(
    proposal_id: int, *, user: User, edited_params: Mapping[str, Any] | None = None
) -> ProposedAction:
    """Approve a waiting proposal, optionally with edited parameters. Runs it once, later, in a task."""
    proposal = ProposedAction.objects.get(pk=proposal_id)
    kind = get_action_type(proposal.action_type)
    changes: dict[str, Any] = {
        "status": ProposalStatus.APPROVED,
        "decided_by": user,
        "decided_at": timezone.now(),
    }
    if edited_params:
        not_editable = sorted(set(edited_params) - set(kind.editable_params))
        if not_editable:
            raise ActionError(f"These details cannot be edited: {', '.join(not_editable)}")
        changes["original_params"] = proposal.params
        changes["params"] = {**proposal.params, **edited_params}
    if proposal.expires_at and proposal.expires_at <= timezone.now():
        raise ProposalStateError("This proposal has expired.")
    if not _transition(proposal_id, ProposalStatus.PENDING, **changes):
        raise ProposalStateError("This proposal was already decided.")
    proposal.refresh_from_db()
    record_audit(
        action="action.approve",
        user=user,
        obj=proposal,
        summary=kind.describe(proposal.params) + (" (edited)" if edited_params else ""),
        changes={"params": [changes.get("original_params"), changes.get("params")]} if edited_params else {},
    )
    set_decision_outcome(proposal.decision, f"Approved by {user.email}")
    _enqueue_execution(proposal.pk)
    return proposal


@transaction.atomic
def reject_action(proposal_id: int, *, user: User, reason: str) -> ProposedAction:
    if not reason.strip():
        raise ActionError("Say why the action is rejected; the reason teaches the automation.")
    if not _transition(
        proposal_id,
        ProposalStatus.PENDING,
        status=ProposalStatus.REJECTED,
        decided_by=user,
        decided_at=timezone.now(),
        decision_reason=reason.strip(),
    ):
        raise ProposalStateError("This proposal was already decided.")
    proposal = ProposedAction.objects.get(pk=proposal_id)
    record_audit(action="action.reject", user=user, obj=proposal, summary=reason.strip())
    set_decision_outcome(proposal.decision, f"Rejected by {user.email}: {reason.strip()}")
    return proposal


@dataclass(frozen=True)
class ManyDecided:
    decided: list[int]
    skipped: dict[int, str]  # proposal id -> why it was left as it was


MAX_DECIDED_TOGETHER = 200


def decide_actions(
    proposal_ids: Sequence[int], *, user: User, approve: bool, reason: str = ""
) -> ManyDecided:
    """Approve or reject several waiting proposals the person ticked, each as if one by one.

    Each proposal gets its own transaction, audit entry and decision outcome, exactly as
    ``approve_action`` and ``reject_action`` give them. One that someone else decided in
    the meantime, or that expired, is skipped with the reason; the others still go through.
    """
    if approve is False and not reason.strip():
        raise ActionError("Say why the actions are rejected; the reason teaches the automation.")
    ids = list(dict.fromkeys(proposal_ids))
    if len(ids) > MAX_DECIDED_TOGETHER:
        raise ActionError(f"Decide at most {MAX_DECIDED_TOGETHER} proposals at once.")
    decided: list[int] = []
    skipped: dict[int, str] = {}
    for proposal_id in ids:
        try:
            if approve:
                approve_action(proposal_id, user=user)
            else:
                reject_action(proposal_id, user=user, reason=reason)
        except ProposedAction.DoesNotExist:
            skipped[proposal_id] = "It no longer exists."
        except (ProposalStateError, ActionError) as exc:
            skipped[proposal_id] = str(exc)
        else:
            decided.append(proposal_id)
    return ManyDecided(decided, skipped)


def _mark_failed(proposal: ProposedAction, reason: str) -> ProposedAction:
    proposal.status = ProposalStatus.FAILED
    proposal.error = reason
    proposal.save(update_fields=["status", "error"])
    record_audit(action="action.fail", automation=proposal.proposed_by, obj=proposal, summary=reason)
    set_decision_outcome(proposal.decision, f"Failed: {reason}")
    return proposal


def execute_action(proposal_id: int) -> ProposedAction | None:
    """Run an approved action exactly once.

    The row lock and the status check share one transaction with the handler's
    effects: a second runner waits on the lock, then sees ``done`` and does nothing;
    a runner killed half-way rolls everything back and the proposal stays
    ``approved`` for the sweep to queue again.
    """
    with transaction.atomic():
        proposal = ProposedAction.objects.select_for_update().filter(pk=proposal_id).first()
        if proposal is None or proposal.status != ProposalStatus.APPROVED:
            return proposal
        try:
            # Inside the try: an action type whose app was removed after the proposal was
            # approved must fail once, not raise on every run the sweep queues again.
            kind = get_action_type(proposal.action_type)
            with transaction.atomic():
                outcome = kind.execute(proposal.params, proposal)
        except DatabaseError:
            raise  # a locked or unreachable database: the task retries with backoff
        except ActionError as exc:
            return _mark_failed(proposal, str(exc))
        except Exception as exc:
            # A bug in a handler fails the action once, visibly, instead of leaving it
            # approved for the sweep to retry every minute forever.
            log.exception("Action %s (#%s) raised", proposal.action_type, proposal.pk)
            return _mark_failed(proposal, f"Unexpected error ({type(exc).__name__}): {exc}")
        proposal.status = ProposalStatus.DONE
        proposal.executed_at = timezone.now()
        proposal.execution_count = models.F("execution_count") + 1
        proposal.result = {"summary": outcome.summary, **outcome.result}
        proposal.undo_data = outcome.undo_data
        proposal.error = ""
        proposal.save(
            update_fields=["status", "executed_at", "execution_count", "result", "undo_data", "error"]
        )
        proposal.refresh_from_db()
        record_audit(
            action="action.execute", automation=proposal.proposed_by, obj=proposal, summary=outcome.summary
        )
        set_decision_outcome(proposal.decision, f"Done: {outcome.summary}")
        return proposal


@transaction.atomic
def undo_action(proposal_id: int, *, user: User) -> ProposedAction:
    proposal = ProposedAction.objects.select_for_update().get(pk=proposal_id)
    kind = get_action_type(proposal.action_type)
    if kind.undo is None or not proposal.can_undo:
        raise ProposalStateError("This action cannot be undone.")
    summary = kind.undo(proposal.undo_data or {}, proposal)
    proposal.status = ProposalStatus.UNDONE
    proposal.undone_at = timezone.now()
    proposal.undone_by = user
    proposal.save(update_fields=["status", "undone_at", "undone_by"])
    record_audit(action="action.undo", user=user, obj=proposal, summary=summary)
    set_decision_outcome(proposal.decision, f"Undone by {user.email}: {summary}")
    return proposal


# Subjects whose decisions are about a person the business employs. Reading one is recorded,
# so an employee can later see who looked at what the system concluded about them (promise 4).
SENSITIVE_SUBJECT_TYPES = frozenset({"employee"})


# Not @transaction.atomic: the one INSERT is atomic by itself, and the usual case (nothing
# sensitive) then costs no savepoint on every page view.
def record_decision_read(decision: DecisionRecord, *, user: User, ip_address: str | None = None) -> bool:
    """Audit that ``user`` opened one decision, when its subject is sensitive; returns whether it did.

    Lists are not recorded: they show a one-line summary, and recording every page view
    would bury the events that matter. Opening the details (inputs, factors) is the read.
    """
    if decision.subject_type not in SENSITIVE_SUBJECT_TYPES:
        return False
    record_audit(
        action="decision.read",
        user=user,
        obj=decision,
        summary=f"Read the decision about {decision.subject_type} {decision.subject_label}",
        changes={"subject": [decision.subject_type, decision.subject_id]},
        ip_address=ip_address,
    )
    return True


def expire_proposals(now: Any = None) -> int:
    """Expire waiting proposals past their deadline; returns how many."""
    now = now or timezone.now()
    expired = 0
    due = ProposedAction.objects.filter(status=ProposalStatus.PENDING, expires_at__lte=now)
    for proposal_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            if _transition(
                proposal_id, ProposalStatus.PENDING, status=ProposalStatus.EXPIRED, decided_at=now
            ):
                proposal = ProposedAction.objects.get(pk=proposal_id)
                record_audit(action="action.expire", automation="approval-queue", obj=proposal)
                set_decision_outcome(proposal.decision, "Expired without a decision")
                expired += 1
    return expired


def stalled_approved_ids(older_than: timedelta = timedelta(minutes=2)) -> list[int]:
    cutoff = timezone.now() - older_than
    return list(
        ProposedAction.objects.filter(status=ProposalStatus.APPROVED)
        .filter(models.Q(decided_at__lte=cutoff) | models.Q(decided_at__isnull=True, created_at__lte=cutoff))
        .values_list("pk", flat=True)
    )
