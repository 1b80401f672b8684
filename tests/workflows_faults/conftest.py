"""A private Redis, an SMTP sink and worker processes for the workflow fault tests."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from heedful.celery import app as celery_app
from tests.workflows_faults.harness import PrivateRedis, SmtpSink, Workers, database_url


def _forget_broker_connections() -> None:
    """Pools hold connections to the broker of the previous test: drop them."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@dataclass
class FaultEnv:
    redis: PrivateRedis
    sink: SmtpSink
    workers: Workers
    # How often the sweep re-queued a run left untouched (its task lost with a worker, or late).
    rescued_runs: int = 0

    def sweep(self, stall_seconds: float = 5.0) -> dict[str, int]:
        """What beat does, done by the test so it can run every fraction of a second.

        The stall time stands in for WORKFLOWS_STALL_SECONDS (120 s). At 2 s, tasks merely
        late in a loaded queue were re-queued too: 250-750 extra tasks per kill test (108
        runs) that the survivors then had to work off, 14-37 s of the settle instead of 4-6 s.
        """
        from heedful.workflows import services

        found = services.sweep(stall_after=timedelta(seconds=stall_seconds))
        self.rescued_runs += found["stalled"]
        return found


@pytest.fixture
def fault_env(tmp_path: Path, transactional_db: Any) -> Iterator[FaultEnv]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is needed for the workflow fault tests")
        pytest.skip("redis-server is not installed")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line
    redis = PrivateRedis().start()
    sink = SmtpSink().start()
    workers = Workers(
        redis_url=redis.url,
        db_url=database_url(connection.settings_dict),
        smtp_port=sink.port,
        data_dir=tmp_path,
    )
    saved = (
        celery_app.conf.broker_url,
        celery_app.conf.task_default_queue,
        celery_app.conf.broker_transport_options,
    )
    celery_app.conf.broker_url = redis.url
    celery_app.conf.task_default_queue = workers.queue
    celery_app.conf.broker_transport_options = {"visibility_timeout": 3600, "max_retries": 1}
    _forget_broker_connections()
    env = FaultEnv(redis, sink, workers)
    try:
        yield env
    finally:
        workers.kill_all()
        sink.stop()
        redis.kill()
        (
            celery_app.conf.broker_url,
            celery_app.conf.task_default_queue,
            celery_app.conf.broker_transport_options,
        ) = saved
        _forget_broker_connections()
