"""The approval queue's service API: propose, approve, reject, run, undo, expire, policies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from heedful.accounts.models import User
from heedful.governance import services
from heedful.governance.actions import ActionError
from heedful.governance.models import (
    ActionPolicy,
    AuditEvent,
    DecisionRecord,
    PolicyMode,
    ProposalStatus,
    ProposedAction,
)
from heedful.governance.tests.factories import DecisionRecordFactory

pytestmark = pytest.mark.django_db

Propose = Callable[..., ProposedAction]
Effects = Callable[[], list[str]]


def _actions_for(proposal: ProposedAction) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="proposedaction", object_id=str(proposal.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_an_ask_proposal_waits_with_a_deadline_and_is_audited(propose: Propose) -> None:
    decision = DecisionRecordFactory()
    before = timezone.now()

    proposal = propose(decision=decision)

    assert proposal.status == ProposalStatus.PENDING
    assert proposal.policy_mode == PolicyMode.ASK
    assert proposal.expires_at is not None
    assert before + timedelta(days=7) <= proposal.expires_at <= timezone.now() + timedelta(days=7)
    assert _actions_for(proposal) == ["action.propose"]
    event = AuditEvent.objects.get(action="action.propose")
    assert (event.actor_label, event.actor_automation, event.actor_user) == (
        "rule:follow-up",
        "rule:follow-up",
        None,
    )
    assert event.summary == f"Write the note “Call Noor back” — Waiting for approval (#{proposal.pk})"
    decision.refresh_from_db()
    assert decision.outcome == f"Waiting for approval (#{proposal.pk})"


def test_the_same_idempotency_key_returns_the_first_proposal(propose: Propose) -> None:
    first = propose(idempotency_key="follow-up:7")
    second = propose(note="Something else", idempotency_key="follow-up:7")

    assert second.pk == first.pk
    assert second.params == {"note": "Call Noor back"}
    assert ProposedAction.objects.count() == 1
    assert AuditEvent.objects.filter(action="action.propose").count() == 1


def test_a_never_policy_blocks_the_action_and_it_never_runs(
    propose: Propose, owner: User, effects: Effects
) -> None:
    services.set_action_policy(action_type="test.note", mode=PolicyMode.NEVER, user=owner)
    decision = DecisionRecordFactory()

    proposal = propose(decision=decision)
    services.execute_action(proposal.pk)

    proposal.refresh_from_db()
    assert (proposal.status, proposal.execution_count, proposal.expires_at) == (
        ProposalStatus.BLOCKED,
        0,
        None,
    )
    assert effects() == []
    decision.refresh_from_db()
    assert decision.outcome == "Not run: the policy for Write a test note is 'never'"
    with pytest.raises(services.ProposalStateError):
        services.approve_action(proposal.pk, user=owner)


def test_an_auto_policy_approves_and_queues_the_run_on_commit(
    propose: Propose,
    owner: User,
    effects: Effects,
    django_capture_on_commit_callbacks: Any,
    eager_celery: None,
) -> None:
    services.set_action_policy(action_type="test.note", mode=PolicyMode.AUTO, user=owner)

    with django_capture_on_commit_callbacks() as callbacks:
        proposal = propose()
        # Nothing runs before the proposing transaction commits.
        assert effects() == []

    assert proposal.status == ProposalStatus.APPROVED
    assert len(callbacks) == 1
    callbacks[0]()  # what on_commit does: execute_action_task.delay(), run eagerly here
    proposal.refresh_from_db()
    assert (proposal.status, proposal.execution_count) == (ProposalStatus.DONE, 1)
    assert effects() == ["Call Noor back"]
    assert _actions_for(proposal) == ["action.propose", "action.execute"]


def test_an_auto_proposal_run_inline_is_done_at_once_and_queues_no_task(
    propose: Propose, owner: User, effects: Effects, django_capture_on_commit_callbacks: Any
) -> None:
    services.set_action_policy(action_type="test.note", mode=PolicyMode.AUTO, user=owner)

    with django_capture_on_commit_callbacks() as callbacks:
        proposal = propose(run_inline=True)

    assert (proposal.status, proposal.execution_count) == (ProposalStatus.DONE, 1)
    assert effects() == ["Call Noor back"]
    assert _actions_for(proposal) == ["action.propose", "action.execute"]
    assert callbacks == []  # nothing left to run, so no execution task


def test_an_ask_proposal_run_inline_still_waits_for_a_person(
    propose: Propose, effects: Effects, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        proposal = propose(run_inline=True)

    assert (proposal.status, proposal.execution_count) == (ProposalStatus.PENDING, 0)
    assert (effects(), callbacks) == ([], [])


def test_approving_records_who_and_queues_exactly_one_run(
    propose: Propose, manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    decision = DecisionRecordFactory()
    proposal = propose(decision=decision)

    with django_capture_on_commit_callbacks() as callbacks:
        approved = services.approve_action(proposal.pk, user=manager)

    assert len(callbacks) == 1
    assert approved.status == ProposalStatus.APPROVED
    assert approved.decided_by == manager
    assert approved.original_params is None
    assert _actions_for(proposal) == ["action.propose", "action.approve"]
    decision.refresh_from_db()
    assert decision.outcome == "Approved by max@example.com"


def test_edit_then_approve_keeps_the_original_and_audits_the_change(propose: Propose, owner: User) -> None:
    proposal = propose()

    approved = services.approve_action(proposal.pk, user=owner, edited_params={"note": "Call Noor today"})

    assert approved.params == {"note": "Call Noor today"}
    assert approved.original_params == {"note": "Call Noor back"}
    event = AuditEvent.objects.get(action="action.approve")
    assert event.summary == "Write the note “Call Noor today” (edited)"
    assert event.changes == {"params": [{"note": "Call Noor back"}, {"note": "Call Noor today"}]}


def test_a_detail_that_is_not_editable_cannot_be_changed(propose: Propose, owner: User) -> None:
    proposal = propose()

    with pytest.raises(ActionError, match="These details cannot be edited: sleep"):
        services.approve_action(proposal.pk, user=owner, edited_params={"sleep": 10})

    proposal.refresh_from_db()
    assert (proposal.status, proposal.params) == (ProposalStatus.PENDING, {"note": "Call Noor back"})


def test_a_proposal_cannot_be_approved_twice(propose: Propose, owner: User, manager: User) -> None:
    proposal = propose()
    services.approve_action(proposal.pk, user=owner)

    with pytest.raises(services.ProposalStateError, match="already decided"):
        services.approve_action(proposal.pk, user=manager)

    proposal.refresh_from_db()
    assert proposal.decided_by == owner
    assert _actions_for(proposal) == ["action.propose", "action.approve"]


def test_an_expired_proposal_cannot_be_approved(propose: Propose, owner: User, effects: Effects) -> None:
    proposal = propose(expires_in=timedelta(hours=1))
    ProposedAction.objects.filter(pk=proposal.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(services.ProposalStateError, match="expired"):
        services.approve_action(proposal.pk, user=owner)
    services.execute_action(proposal.pk)

    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == (ProposalStatus.PENDING, None)
    assert effects() == []


def test_the_sweep_expires_overdue_proposals_once(propose: Propose, owner: User) -> None:
    decision = DecisionRecordFactory()
    overdue = propose(decision=decision)
    fresh = propose(note="Later")
    now = timezone.now()
    ProposedAction.objects.filter(pk=overdue.pk).update(expires_at=now - timedelta(minutes=1))

    assert services.expire_proposals(now) == 1
    assert services.expire_proposals(now) == 0

    overdue.refresh_from_db()
    fresh.refresh_from_db()
    assert (overdue.status, overdue.decided_at, fresh.status) == (
        ProposalStatus.EXPIRED,
        now,
        ProposalStatus.PENDING,
    )
    decision.refresh_from_db()
    assert decision.outcome == "Expired without a decision"
    with pytest.raises(services.ProposalStateError):
        services.approve_action(overdue.pk, user=owner)


def test_a_rejected_proposal_never_runs(propose: Propose, owner: User, effects: Effects) -> None:
    decision = DecisionRecordFactory()
    proposal = propose(decision=decision)

    services.reject_action(proposal.pk, user=owner, reason="  Noor already called us.  ")
    services.execute_action(proposal.pk)

    proposal.refresh_from_db()
    assert (proposal.status, proposal.decision_reason, proposal.execution_count) == (
        ProposalStatus.REJECTED,
        "Noor already called us.",
        0,
    )
    assert effects() == []
    assert _actions_for(proposal) == ["action.propose", "action.reject"]
    decision.refresh_from_db()
    assert decision.outcome == "Rejected by olivia@example.com: Noor already called us."
    with pytest.raises(services.ProposalStateError):
        services.approve_action(proposal.pk, user=owner)


def test_rejecting_needs_a_reason(propose: Propose, owner: User) -> None:
    proposal = propose()

    with pytest.raises(ActionError, match="Say why"):
        services.reject_action(proposal.pk, user=owner, reason="   ")

    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING
    assert _actions_for(proposal) == ["action.propose"]


def test_running_an_approved_action_twice_has_one_effect(
    propose: Propose, owner: User, effects: Effects
) -> None:
    decision = DecisionRecordFactory()
    proposal = propose(decision=decision)
    services.approve_action(proposal.pk, user=owner)

    first = services.execute_action(proposal.pk)
    second = services.execute_action(proposal.pk)

    assert first is not None
    assert second is not None
    assert (second.status, second.execution_count) == (ProposalStatus.DONE, 1)
    assert second.result == {
        "summary": "Wrote the note “Call Noor back”",
        "effect_id": first.result["effect_id"],
    }
    assert effects() == ["Call Noor back"]
    assert _actions_for(proposal) == ["action.propose", "action.approve", "action.execute"]
    decision.refresh_from_db()
    assert decision.outcome == "Done: Wrote the note “Call Noor back”"


def test_an_action_error_fails_the_proposal_with_the_reason(
    propose: Propose, owner: User, effects: Effects
) -> None:
    proposal = propose(note="")
    services.approve_action(proposal.pk, user=owner)

    services.execute_action(proposal.pk)

    proposal.refresh_from_db()
    assert (proposal.status, proposal.error, proposal.execution_count) == (
        ProposalStatus.FAILED,
        "A note needs some text.",
        0,
    )
    assert effects() == []
    assert AuditEvent.objects.get(action="action.fail").summary == "A note needs some text."


def test_an_action_type_removed_after_approval_fails_instead_of_raising(
    propose: Propose, owner: User, action_types: dict[str, object]
) -> None:
    # Regression: execute_action looked the type up outside its error handling, so the task
    # raised on every run and the stalled-action sweep queued it again every minute, forever.
    proposal = propose()
    services.approve_action(proposal.pk, user=owner)
    del action_types["test.note"]

    services.execute_action(proposal.pk)

    proposal.refresh_from_db()
    assert (proposal.status, proposal.error) == (ProposalStatus.FAILED, "Unknown action type 'test.note'")
    assert services.stalled_approved_ids(timedelta(0)) == []


def test_a_bug_in_a_handler_fails_the_action_once_and_undoes_its_writes(
    propose: Propose, owner: User, action_types: dict[str, Any], effects: Effects
) -> None:
    # Regression: anything but ActionError left the proposal approved, and the sweep queued
    # it again every minute with no limit.
    def broken(params: Any, proposal: Any) -> Any:
        services.record_decision(actor_kind="rule", actor_name="test-effect", output_summary="half")
        raise KeyError("contact_id")

    action_types["test.note"] = replace(action_types["test.note"], execute=broken)
    proposal = propose()
    services.approve_action(proposal.pk, user=owner)

    services.execute_action(proposal.pk)

    proposal.refresh_from_db()
    assert (proposal.status, proposal.error) == (
        ProposalStatus.FAILED,
        "Unexpected error (KeyError): 'contact_id'",
    )
    assert effects() == []
    assert services.stalled_approved_ids(timedelta(0)) == []


def test_a_database_error_in_a_handler_is_raised_for_the_task_to_retry(
    propose: Propose, owner: User, action_types: dict[str, Any]
) -> None:
    def locked(params: Any, proposal: Any) -> Any:
        raise OperationalError("database is locked")

    action_types["test.note"] = replace(action_types["test.note"], execute=locked)
    proposal = propose()
    services.approve_action(proposal.pk, user=owner)

    with pytest.raises(OperationalError):
        services.execute_action(proposal.pk)

    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED


def test_undo_reverts_the_effect_and_records_who(propose: Propose, owner: User, effects: Effects) -> None:
    decision = DecisionRecordFactory()
    proposal = propose(decision=decision)
    services.approve_action(proposal.pk, user=owner)
    services.execute_action(proposal.pk)
    assert effects() == ["Call Noor back"]

    undone = services.undo_action(proposal.pk, user=owner)

    assert (undone.status, undone.undone_by) == (ProposalStatus.UNDONE, owner)
    assert undone.undone_at is not None
    assert effects() == []
    event = AuditEvent.objects.get(action="action.undo")
    assert (event.actor_user, event.summary) == (owner, "Removed the note")
    decision.refresh_from_db()
    assert decision.outcome == "Undone by olivia@example.com: Removed the note"
    with pytest.raises(services.ProposalStateError, match="cannot be undone"):
        services.undo_action(proposal.pk, user=owner)


def test_an_action_without_undo_cannot_be_undone(propose: Propose, owner: User) -> None:
    proposal = propose(action_type="test.permanent", params={})
    services.approve_action(proposal.pk, user=owner)
    services.execute_action(proposal.pk)

    with pytest.raises(services.ProposalStateError):
        services.undo_action(proposal.pk, user=owner)

    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DONE
    assert not AuditEvent.objects.filter(action="action.undo").exists()


def test_a_pending_proposal_cannot_be_undone(propose: Propose, owner: User) -> None:
    proposal = propose()

    with pytest.raises(services.ProposalStateError):
        services.undo_action(proposal.pk, user=owner)

    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING


def test_changing_a_policy_is_audited_with_before_and_after(owner: User) -> None:
    services.set_action_policy(action_type="test.note", mode=PolicyMode.AUTO, user=owner)
    services.set_action_policy(action_type="test.note", mode=PolicyMode.NEVER, user=owner)

    assert services.policy_for("test.note") == PolicyMode.NEVER
    assert ActionPolicy.objects.get().updated_by == owner
    assert list(AuditEvent.objects.order_by("id").values_list("action", "object_id", "changes")) == [
        ("policy.change", "test.note", {"mode": ["ask", "auto"]}),
        ("policy.change", "test.note", {"mode": ["auto", "never"]}),
    ]


def test_a_policy_for_an_unknown_action_or_mode_is_refused(owner: User) -> None:
    with pytest.raises(ActionError):
        services.set_action_policy(action_type="crm.nope", mode=PolicyMode.AUTO, user=owner)
    with pytest.raises(ActionError):
        services.set_action_policy(action_type="test.note", mode="sometimes", user=owner)

    assert ActionPolicy.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_reading_a_decision_about_an_employee_is_audited(manager: User) -> None:
    about_employee = DecisionRecordFactory(
        subject_type="employee", subject_id="12", subject_label="Eli Brandt"
    )
    about_contact = DecisionRecordFactory()

    assert services.record_decision_read(about_employee, user=manager, ip_address="10.0.0.5") is True
    assert services.record_decision_read(about_contact, user=manager) is False

    event = AuditEvent.objects.get()
    assert (event.action, event.actor_user, event.object_type, event.object_id, event.ip_address) == (
        "decision.read",
        manager,
        "decisionrecord",
        str(about_employee.pk),
        "10.0.0.5",
    )
    assert event.summary == "Read the decision about employee Eli Brandt"
    assert DecisionRecord.objects.count() == 2
