"""SMTP down for a while, and Redis restarted with its queues lost: nothing is lost, nothing doubled."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest
from kombu.exceptions import OperationalError as BrokerError

from heedful.governance.models import ActionPolicy
from heedful.workflows import services
from heedful.workflows.models import OutboxMessage, OutboxStatus, RunStatus, WorkflowRun
from tests.workflows_faults.conftest import FaultEnv
from tests.workflows_faults.test_kill_worker import (
    DEFINITION,
    assert_nothing_lost_or_doubled,
    emit_orders,
    settle,
)

pytestmark = [pytest.mark.celery_worker]


def _install() -> None:
    services.create_workflow(name="Shipped", definition=DEFINITION, user=None, enabled=True)
    ActionPolicy.objects.create(action_type="workflows.send_email", mode="auto")


def _wait_for(condition: Callable[[], bool], env: FaultEnv, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        env.workers.assert_alive()
        # While the broker is down beat's sweep fails too, and tries again next time.
        with contextlib.suppress(BrokerError):
            env.sweep()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out\n{env.workers.tail()}")


def test_mail_queued_while_the_smtp_server_is_down_goes_out_once_when_it_is_back(fault_env: FaultEnv) -> None:
    _install()
    fault_env.sink.stop()  # nothing listens on the SMTP port
    fault_env.workers.start()
    emit_orders(0, 10)
    # Every first email has failed at least twice and waits for its next try.
    _wait_for(
        lambda: OutboxMessage.objects.filter(status=OutboxStatus.PENDING, attempts__gte=2).count() >= 10,
        fault_env,
    )
    assert fault_env.sink.ids() == set()
    error = OutboxMessage.objects.exclude(last_error="").values_list("last_error", flat=True).first()
    assert error is not None
    assert "Connection refused" in error
    fault_env.sink.start()
    settle(fault_env, 10)
    assert_nothing_lost_or_doubled(fault_env, 10)
    assert OutboxMessage.objects.filter(attempts__gte=3).count() >= 10


def test_a_redis_restart_that_loses_every_queued_task_still_finishes_every_run(fault_env: FaultEnv) -> None:
    _install()
    fault_env.workers.start()
    emit_orders(0, 5)
    _wait_for(lambda: WorkflowRun.objects.filter(status=RunStatus.WAITING).exists(), fault_env)
    fault_env.redis.kill()  # no persistence: every queued and unacknowledged task is gone
    emit_orders_while_down = 5
    for n in range(5, 5 + emit_orders_while_down):
        with contextlib.suppress(BrokerError):
            emit_orders(n, 1)  # recorded in the database; the task to match it is lost
    time.sleep(2)
    fault_env.redis.start()  # same port, empty
    settle(fault_env, 10, supervised=True)
    assert_nothing_lost_or_doubled(fault_env, 10)
    print(f"workers restarted after exiting on their own: {fault_env.workers.restarts}")  # noqa: T201
