"""A real Celery worker process on Redis runs approved actions exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.db import connection

from heedful.accounts.models import User
from heedful.celery import app as celery_app
from heedful.crm.models import Contact
from heedful.crm.services import create_contact
from heedful.governance import services
from heedful.governance.models import ProposalStatus, ProposedAction

REDIS_URL = os.environ.get("HEEDFUL_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}; CI must start it")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")


def _forget_broker_connections() -> None:
    """Both pools stay bound to the broker an earlier test published to: drop them."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def redis_worker(tmp_path: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Point this process's Celery at Redis on a private queue and start a worker on it."""
    _redis_or_skip()
    queue = f"test-{uuid.uuid4().hex[:10]}"
    saved = (
        celery_app.conf.broker_url,
        celery_app.conf.task_default_queue,
        celery_app.conf.broker_transport_options,
    )
    celery_app.conf.broker_url = REDIS_URL
    celery_app.conf.task_default_queue = queue
    celery_app.conf.broker_transport_options = {"visibility_timeout": 3600}
    _forget_broker_connections()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": REDIS_URL,
        "HEEDFUL_TASK_QUEUE": queue,
        "HEEDFUL_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "heedful.settings",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "heedful.cli", "worker", "--concurrency", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        (
            celery_app.conf.broker_url,
            celery_app.conf.task_default_queue,
            celery_app.conf.broker_transport_options,
        ) = saved
        _forget_broker_connections()
        redis.Redis.from_url(REDIS_URL).delete(queue)


def _wait_for_status(
    pk: int, status: str, proc: subprocess.Popen[bytes], timeout: float = 60
) -> ProposedAction:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proposal = ProposedAction.objects.get(pk=pk)
        if proposal.status == status:
            return proposal
        assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"proposal {pk} stayed {ProposedAction.objects.get(pk=pk).status}")


def test_an_approved_action_runs_once_in_a_real_worker(
    redis_worker: subprocess.Popen[bytes], owner: User
) -> None:
    contact = create_contact(email="rosa@example.com", first_name="Rosa")
    proposal = services.propose_action(
        action_type="crm.add_tag",
        params={"contact_id": contact.pk, "tag_name": "vip"},
        explanation="Three orders over 100 € this month.",
        proposed_by="rule:vip",
        subject=services.Subject.of(contact, "contact"),
    )
    assert proposal.status == ProposalStatus.PENDING
    services.approve_action(proposal.pk, user=owner)  # commits; on_commit sends the task to Redis

    done = _wait_for_status(proposal.pk, ProposalStatus.DONE, redis_worker)
    assert done.execution_count == 1
    assert list(Contact.objects.get(pk=contact.pk).tags.values_list("name", flat=True)) == ["vip"]

    # The same task delivered again (a retry, a duplicate) changes nothing.
    from heedful.governance.tasks import execute_action_task

    execute_action_task.delay(proposal.pk)
    time.sleep(2)
    again = ProposedAction.objects.get(pk=proposal.pk)
    assert (again.status, again.execution_count) == (ProposalStatus.DONE, 1)


def test_the_sweep_requeues_an_approved_action_whose_task_was_lost(
    redis_worker: subprocess.Popen[bytes], owner: User
) -> None:
    contact = create_contact(email="sami@example.com", first_name="Sami")
    proposal = services.propose_action(
        action_type="crm.add_tag",
        params={"contact_id": contact.pk, "tag_name": "follow-up"},
        explanation="No reply for 3 days.",
        proposed_by="rule:follow-up",
    )
    # Approved in the database, but the message never reached the broker (as after a crash).
    ProposedAction.objects.filter(pk=proposal.pk).update(status=ProposalStatus.APPROVED, decided_by=owner)
    from heedful.governance.tasks import requeue_stalled_actions_task

    requeue_stalled_actions_task.delay(0)  # what beat sends every minute, with a 2-minute grace
    done = _wait_for_status(proposal.pk, ProposalStatus.DONE, redis_worker)
    assert done.execution_count == 1
