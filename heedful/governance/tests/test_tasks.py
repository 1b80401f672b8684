"""The Celery tasks: thin, take ids, safe to run again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from heedful.accounts.models import User
from heedful.governance.models import ProposalStatus, ProposedAction
from heedful.governance.tasks import execute_action_task, expire_proposals_task, requeue_stalled_actions_task

pytestmark = pytest.mark.django_db

Effects = Callable[[], list[str]]


def test_the_execute_task_delivered_twice_runs_the_action_once(
    propose: Callable[..., ProposedAction], owner: User, effects: Effects
) -> None:
    proposal = propose()
    ProposedAction.objects.filter(pk=proposal.pk).update(status=ProposalStatus.APPROVED, decided_by=owner)

    execute_action_task.apply(args=[proposal.pk])
    execute_action_task.apply(args=[proposal.pk])

    proposal.refresh_from_db()
    assert (proposal.status, proposal.execution_count) == (ProposalStatus.DONE, 1)
    assert effects() == ["Call Noor back"]


def test_the_sweep_requeues_only_approved_actions_past_the_grace_period(
    propose: Callable[..., ProposedAction], owner: User, effects: Effects, eager_celery: None
) -> None:
    stalled = propose(note="Stalled")
    recent = propose(note="Just approved")
    waiting = propose(note="Still waiting")
    long_ago = timezone.now() - timedelta(minutes=5)
    ProposedAction.objects.filter(pk=stalled.pk).update(status=ProposalStatus.APPROVED, decided_at=long_ago)
    ProposedAction.objects.filter(pk=recent.pk).update(
        status=ProposalStatus.APPROVED, decided_at=timezone.now()
    )

    assert requeue_stalled_actions_task.apply(args=[120]).get() == 1
    assert requeue_stalled_actions_task.apply(args=[120]).get() == 0

    assert effects() == ["Stalled"]
    statuses = dict(ProposedAction.objects.values_list("pk", "status"))
    assert statuses == {
        stalled.pk: ProposalStatus.DONE,
        recent.pk: ProposalStatus.APPROVED,
        waiting.pk: ProposalStatus.PENDING,
    }


def test_the_expiry_task_expires_overdue_proposals(propose: Callable[..., ProposedAction]) -> None:
    overdue = propose()
    ProposedAction.objects.filter(pk=overdue.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = propose(note="Later")

    assert expire_proposals_task.apply().get() == 1

    assert dict(ProposedAction.objects.values_list("pk", "status")) == {
        overdue.pk: ProposalStatus.EXPIRED,
        fresh.pk: ProposalStatus.PENDING,
    }
