"""Exactly once under real concurrency: threads with their own database connections.

Each thread opens its own connection, as two web requests or two workers would. On
PostgreSQL the conditional UPDATE and the row lock decide; on SQLite the IMMEDIATE
transaction mode makes the second writer wait for the first (see docs/adr/0001).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from heedful.accounts.models import User
from heedful.governance import services
from heedful.governance.models import AuditEvent, ProposalStatus, ProposedAction

pytestmark = pytest.mark.django_db(transaction=True)

Effects = Callable[[], list[str]]


def run_together(*calls: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Start every call at the same moment, each in its own thread; return ("ok", value) or ("error", exc)."""
    barrier = threading.Barrier(len(calls), timeout=30)
    results: list[tuple[str, Any]] = [("missing", None)] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = ("ok", call())
        except Exception as exc:  # collected and asserted on by the test
            results[index] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def _execute_events(proposal: ProposedAction) -> int:
    return AuditEvent.objects.filter(action="action.execute", object_id=str(proposal.pk)).count()


def test_two_people_approving_at_once_run_the_action_once(
    propose: Callable[..., ProposedAction], owner: User, manager: User, effects: Effects, eager_celery: None
) -> None:
    # The note handler pauses, so the loser's approval arrives while the winner's run is under way.
    proposal = propose(params={"note": "Call Noor back", "sleep": 0.2})

    results = run_together(
        lambda: services.approve_action(proposal.pk, user=owner),
        lambda: services.approve_action(proposal.pk, user=manager),
    )

    outcomes = sorted(kind for kind, _value in results)
    assert outcomes == ["error", "ok"]
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, services.ProposalStateError)
    assert str(error) == "This proposal was already decided."
    winner = next(value for kind, value in results if kind == "ok")
    proposal.refresh_from_db()
    # The winner's commit queued the task (run eagerly here), and it ran exactly once.
    assert (proposal.status, proposal.execution_count, proposal.decided_by) == (
        ProposalStatus.DONE,
        1,
        winner.decided_by,
    )
    assert AuditEvent.objects.filter(action="action.approve", object_id=str(proposal.pk)).count() == 1
    assert _execute_events(proposal) == 1
    assert effects() == ["Call Noor back"]


def test_two_workers_running_one_approved_action_at_once_run_it_once(
    propose: Callable[..., ProposedAction], owner: User, effects: Effects
) -> None:
    proposal = propose(params={"note": "Call Noor back", "sleep": 0.3})
    services.approve_action(proposal.pk, user=owner)  # commits; the queued message goes to the file broker

    results = run_together(
        lambda: services.execute_action(proposal.pk),
        lambda: services.execute_action(proposal.pk),
    )

    assert [kind for kind, _value in results] == ["ok", "ok"]
    assert [value.status for _kind, value in results] == [ProposalStatus.DONE, ProposalStatus.DONE]
    proposal.refresh_from_db()
    assert (proposal.status, proposal.execution_count) == (ProposalStatus.DONE, 1)
    assert _execute_events(proposal) == 1
    assert effects() == ["Call Noor back"]


def test_running_an_approved_action_again_later_changes_nothing(
    propose: Callable[..., ProposedAction], owner: User, effects: Effects
) -> None:
    proposal = propose()
    services.approve_action(proposal.pk, user=owner)
    services.execute_action(proposal.pk)
    done = ProposedAction.objects.get(pk=proposal.pk)

    services.execute_action(proposal.pk)  # a duplicate delivery, a retry, the sweep

    again = ProposedAction.objects.get(pk=proposal.pk)
    assert (again.status, again.execution_count, again.executed_at) == (
        ProposalStatus.DONE,
        1,
        done.executed_at,
    )
    assert effects() == ["Call Noor back"]


def test_approve_and_reject_at_once_leave_one_decision(
    propose: Callable[..., ProposedAction], owner: User, manager: User, effects: Effects
) -> None:
    proposal = propose()

    results = run_together(
        lambda: services.approve_action(proposal.pk, user=owner),
        lambda: services.reject_action(proposal.pk, user=manager, reason="Noor already called."),
    )

    assert sorted(kind for kind, _value in results) == ["error", "ok"]
    proposal.refresh_from_db()
    decided = AuditEvent.objects.filter(
        action__in=["action.approve", "action.reject"], object_id=str(proposal.pk)
    ).values_list("action", flat=True)
    assert list(decided) == [
        {ProposalStatus.APPROVED: "action.approve", ProposalStatus.REJECTED: "action.reject"}[
            ProposalStatus(proposal.status)
        ]
    ]


def test_two_automations_proposing_with_one_key_queue_it_once(
    propose: Callable[..., ProposedAction], db: None
) -> None:
    results = run_together(
        lambda: propose(idempotency_key="follow-up:7"),
        lambda: propose(idempotency_key="follow-up:7"),
    )

    assert [kind for kind, _value in results] == ["ok", "ok"]
    assert results[0][1].pk == results[1][1].pk
    assert ProposedAction.objects.count() == 1
    assert AuditEvent.objects.filter(action="action.propose").count() == 1
