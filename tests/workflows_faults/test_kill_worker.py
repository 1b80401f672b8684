"""kill -9 the workers again and again while runs are mid-step: every run completes and
every email reaches a real SMTP server, none lost and none twice."""

from __future__ import annotations

import os
import random
import time

import pytest

from heedful.governance.models import ActionPolicy, ProposalStatus, ProposedAction
from heedful.governance.services import Subject
from heedful.workflows import services
from heedful.workflows.events import emit_event
from heedful.workflows.models import OutboxMessage, OutboxStatus, RunStatus, StepRun, WorkflowRun
from tests.workflows_faults.conftest import FaultEnv

pytestmark = [pytest.mark.celery_worker]

KILLS = int(os.environ.get("HEEDFUL_FAULT_KILLS", "20"))

DEFINITION = {
    "trigger": {"event": "order.shipped"},
    "retry": {"max_attempts": 10, "backoff": "1s"},
    "steps": [
        {
            "id": "shipped",
            "type": "action",
            "action": "send_email",
            "params": {
                "subject": "Order {{ event.order.number }} shipped",
                "body": "Hi {{ contact.first_name }}",
            },
        },
        {"id": "pause", "type": "wait", "duration": "1s"},
        {
            "id": "check-in",
            "type": "action",
            "action": "send_email",
            "params": {"subject": "Did order {{ event.order.number }} arrive?", "body": "Hi again"},
        },
    ],
}


def emit_orders(first: int, count: int) -> None:
    for n in range(first, first + count):
        emit_event(
            "order.shipped",
            {"contact": {"email": f"c{n}@example.com", "first_name": f"C{n}"}, "order": {"number": f"A-{n}"}},
            Subject("contact", str(n), f"Customer {n}"),
        )


# How long the survivors get to finish everything: generous, since a loaded machine (the CI
# box, or 2 cores shared with other test suites) runs the queued tasks several times slower.
SETTLE_SECONDS = float(os.environ.get("HEEDFUL_FAULT_SETTLE_SECONDS", "600"))


def settle(env: FaultEnv, expected_runs: int, timeout: float = SETTLE_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        env.workers.assert_alive()
        env.sweep()
        finished = WorkflowRun.objects.filter(status=RunStatus.COMPLETED).count()
        unsent = OutboxMessage.objects.exclude(status=OutboxStatus.SENT).count()
        if finished == expected_runs and unsent == 0 and len(env.sink.ids()) >= 2 * expected_runs:
            return
        time.sleep(0.3)
    statuses = list(
        WorkflowRun.objects.exclude(status=RunStatus.COMPLETED).values_list("status", "error")[:20]
    )
    unsent = list(
        OutboxMessage.objects.exclude(status=OutboxStatus.SENT).values_list("status", "last_error")[:20]
    )
    raise AssertionError(
        f"not settled: {finished}/{expected_runs} runs completed, {len(env.sink.ids())} emails received; "
        f"unfinished runs {statuses}; unsent {unsent}\n{env.workers.tail()}"
    )


def assert_nothing_lost_or_doubled(env: FaultEnv, runs: int, max_repeats: int = 0) -> None:
    assert WorkflowRun.objects.filter(status=RunStatus.COMPLETED).count() == runs
    done = StepRun.objects.filter(status="done")
    assert done.count() == 3 * runs
    assert done.values("run_id", "step_id").distinct().count() == 3 * runs
    proposals = ProposedAction.objects.all()
    assert proposals.count() == 2 * runs
    assert set(proposals.values_list("status", "execution_count").distinct()) == {(ProposalStatus.DONE, 1)}
    sent = OutboxMessage.objects.filter(status=OutboxStatus.SENT)
    assert sent.count() == OutboxMessage.objects.count() == 2 * runs
    assert env.sink.ids() == {m.payload["message_id"] for m in sent}
    # Delivery is at least once with a stable Message-ID. A second SMTP transaction needs a
    # kill between the server's "250 OK" and our commit right after it; each such repeat
    # carries the same Message-ID (so a receiver shows it once) and there can be no more
    # repeats than kills. The count is printed so a long run reports it.
    repeats = sum(n - 1 for n in env.sink.duplicates().values())
    print(f"raw SMTP repeats (same Message-ID): {repeats}")  # noqa: T201
    assert repeats <= max_repeats


def test_killing_workers_mid_step_loses_nothing_and_sends_nothing_twice(fault_env: FaultEnv) -> None:
    services.create_workflow(name="Shipped", definition=DEFINITION, user=None, enabled=True)
    ActionPolicy.objects.create(action_type="workflows.send_email", mode="auto")
    rng = random.Random(20261126)
    emitted = 0
    kills_mid_step = 0
    for _round in range(KILLS):
        fault_env.workers.start()
        round_start = emitted
        kill_at = None
        tick = 0
        while kill_at is None or time.monotonic() < kill_at:
            fault_env.workers.assert_alive()
            if tick % 3 == 0:  # a steady trickle of orders, so the kill finds steps in flight
                emit_orders(emitted, 1)
                emitted += 1
            fault_env.sweep()
            if kill_at is None and WorkflowRun.objects.filter(subject_id=str(round_start)).exists():
                # The worker is up and working (it started this round's first run): kill soon.
                kill_at = time.monotonic() + rng.uniform(0.1, 1.5)
            tick += 1
            time.sleep(0.1)
        in_flight = (
            WorkflowRun.objects.exclude(status=RunStatus.COMPLETED).count()
            + OutboxMessage.objects.exclude(status=OutboxStatus.SENT).count()
        )
        fault_env.workers.kill_all()
        kills_mid_step += bool(in_flight)
    fault_env.workers.start()
    settle(fault_env, emitted)
    print(f"{KILLS} kills ({kills_mid_step} with work in flight), {emitted} runs, {2 * emitted} emails")  # noqa: T201
    assert_nothing_lost_or_doubled(fault_env, emitted, max_repeats=KILLS)
