"""kill -9 the workers again and again while runs are mid-step: every run completes and
every email reaches a real SMTP server, none lost and none twice.

At least MIN_RUNS (100) runs and KILLS (12) kills, in about half a minute on 2 loaded cores:
the next worker boots while the current one works (a worker's start-up is most of a round),
each round emits its share of the orders, and a kill comes at a random moment once the current
worker is up, the moment its log shows it holding a task it has not finished.
``HEEDFUL_FAULT_KILLS`` / ``HEEDFUL_FAULT_MIN_RUNS`` make a longer run.
"""

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

KILLS = int(os.environ.get("HEEDFUL_FAULT_KILLS", "12"))
MIN_RUNS = int(os.environ.get("HEEDFUL_FAULT_MIN_RUNS", "100"))
TICK_SECONDS = 0.1
# Orders emitted at the moment of each kill, and how long the kill waits for its worker to
# take one of them before it kills it idle.
BURST = 3
GIVE_UP_SECONDS = 3.0

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


def settle(
    env: FaultEnv, expected_runs: int, timeout: float = SETTLE_SECONDS, *, supervised: bool = False
) -> None:
    """Wait until every run completed and every email arrived. A worker that exits on its own
    fails the test, unless ``supervised``: then it is restarted, as systemd would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervised:
            env.workers.restart_exited()
        else:
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
    workers = fault_env.workers
    # Each round brings its share of the runs, so KILLS rounds make at least MIN_RUNS.
    share = -(-MIN_RUNS // KILLS)
    emitted = 0
    kills_mid_task = 0
    started = time.monotonic()
    current = workers.start()
    for _round in range(KILLS):
        # The next worker boots while the current one works, so a round costs about one
        # start-up (most of a round's time), and the survivor is there to take over.
        following = workers.start()
        round_start = emitted
        kill_at = None
        while kill_at is None or time.monotonic() < kill_at:
            workers.assert_alive()
            if emitted - round_start < share - BURST:  # the round's share, one order per tick
                emit_orders(emitted, 1)
                emitted += 1
            fault_env.sweep()
            if kill_at is None and emitted - round_start >= share - BURST and workers.is_ready(current):
                kill_at = time.monotonic() + rng.uniform(0.1, 1.5)
            time.sleep(TICK_SECONDS)
        # On a quiet machine a task takes milliseconds and the worker is idle at most moments:
        # hand the workers a few orders and kill as soon as the current one holds a task.
        emit_orders(emitted, BURST)
        emitted += BURST
        kills_mid_task += workers.wait_until_busy(current, timeout=GIVE_UP_SECONDS)
        workers.kill(current)
        current = following
    killing = time.monotonic() - started
    settle(fault_env, emitted)
    print(  # noqa: T201
        f"{KILLS} kills ({kills_mid_task} of a worker holding unfinished tasks), {emitted} runs, "
        f"{2 * emitted} emails, "
        f"{fault_env.rescued_runs} re-queues of runs left untouched (lost with a worker, or late); "
        f"{killing:.0f} s of kills, {time.monotonic() - started - killing:.0f} s to settle"
    )
    assert emitted >= MIN_RUNS
    assert kills_mid_task >= min(KILLS, 10)
    assert_nothing_lost_or_doubled(fault_env, emitted, max_repeats=KILLS)
