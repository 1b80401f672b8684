"""Workflow engine benchmarks on PostgreSQL + Redis with real worker processes.

    .venv/bin/python benchmarks/workflows.py                    # a table
    .venv/bin/python benchmarks/workflows.py --json             # steps_per_s_1_worker, steps_per_s_2_workers,
                                                                # raw_celery_tasks_per_s, ratio_to_raw_celery,
                                                                # ratio_to_raw_celery_single_events,
                                                                # enroll_100k_s (+ details)
    .venv/bin/python benchmarks/workflows.py --contacts 100000  # the full enrolment (default 5000,
                                                                # scaled to 100k and 1M linearly)

* Raw Celery: no-op tasks through the same Redis and the same ``heedful worker`` processes.
* Steps/s: runs of 10 condition steps (each a locked, logged, committed step), started by
  events emitted in one transaction; from the first event to the last run completed.
  ``*_single_events``: the same with each event emitted in its own transaction (1 worker).
* Enrolment: N contacts enrolled in a one-email campaign (policy ``auto``): event → run →
  decision record → proposal → outbox → delivered to a local aiosmtpd sink; from the first
  event to the last email received.

Workers are ``--concurrency 1`` processes; "2 workers" is two of them. Each measurement uses a
fresh database (``heedful_wf``, or ``HEEDFUL_BENCH_DB``) and a private redis-server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN_URL = os.environ.get("HEEDFUL_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("HEEDFUL_BENCH_DB", "heedful_wf")
STEPS_PER_RUN = 10


def _fresh_database() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"


def _setup(db_url: str, data_dir: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": db_url,
            "HEEDFUL_DATA_DIR": data_dir,
            "SECRET_KEY": "bench",
            "ALLOWED_HOSTS": "localhost",
            "DJANGO_SETTINGS_MODULE": "tests.workflows_faults.worker_settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _point_celery(redis_url: str, queue: str) -> None:
    from heedful.celery import app

    app.conf.broker_url = redis_url
    app.conf.task_default_queue = queue
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    app._pool = None
    app.amqp._producer_pool = None


def _queue_empty(redis_url: str, queue: str) -> bool:
    import redis

    client = redis.Redis.from_url(redis_url)
    return client.llen(queue) == 0 and client.hlen("unacked") == 0


def _wait(predicate: Any, timeout: float, sweep: bool = True) -> None:
    from heedful.workflows import services

    deadline = time.monotonic() + timeout
    last_sweep = 0.0
    while time.monotonic() < deadline:
        if predicate():
            return
        if sweep and time.monotonic() - last_sweep > 1:
            services.sweep()  # what beat does
            last_sweep = time.monotonic()
        time.sleep(0.05)
    raise TimeoutError("benchmark did not finish in time")


def _start_workers(env: Any, n: int) -> None:
    from heedful.workflows.tasks import noop_task

    for _ in range(n):
        env.workers.start(concurrency=1)
    # Ready when a no-op went through.
    noop_task.delay()
    _wait(lambda: _queue_empty(env.redis.url, env.workers.queue), 120, sweep=False)
    time.sleep(1)


class _Env:
    def __init__(self, data_dir: Path, db_url: str) -> None:
        from tests.workflows_faults.harness import PrivateRedis, SmtpSink, Workers

        self.redis = PrivateRedis().start()
        self.sink = SmtpSink().start()
        self.workers = Workers(
            redis_url=self.redis.url, db_url=db_url, smtp_port=self.sink.port, data_dir=data_dir
        )
        _point_celery(self.redis.url, self.workers.queue)

    def close(self) -> None:
        self.workers.kill_all()
        self.sink.stop()
        self.redis.kill()


def _raw_celery(env: _Env, tasks: int) -> float:
    from heedful.workflows.tasks import noop_task

    started = time.perf_counter()
    for _ in range(tasks):
        noop_task.delay()
    _wait(lambda: _queue_empty(env.redis.url, env.workers.queue), 600, sweep=False)
    return tasks / (time.perf_counter() - started)


def _steps_per_s(runs: int, tag: str, *, one_transaction: bool = True, event: str = "order.created") -> float:
    from contextlib import nullcontext

    from django.db import transaction

    from heedful.governance.services import Subject
    from heedful.workflows import services
    from heedful.workflows.events import emit_event
    from heedful.workflows.models import RunStatus, WorkflowRun

    steps = [
        {"id": f"s{i}", "type": "condition", "conditions": [{"path": "event.n", "op": "gte", "value": 0}]}
        for i in range(STEPS_PER_RUN)
    ]
    workflow = services.create_workflow(
        name=f"bench {tag}",
        definition={
            "trigger": {
                "event": event,
                "conditions": [{"path": "event.tag", "op": "equals", "value": tag}],
            },
            "steps": steps,
        },
        user=None,
        enabled=True,
    )
    started = time.perf_counter()
    # One transaction: the events are matched together. Otherwise each event is its own
    # transaction, as a web request emits one: one matching task and one run task per event.
    with transaction.atomic() if one_transaction else nullcontext():
        for n in range(runs):
            emit_event(event, {"n": n, "tag": tag}, Subject("contact", str(n), f"c{n}"))
    _wait(
        lambda: WorkflowRun.objects.filter(workflow=workflow, status=RunStatus.COMPLETED).count() == runs,
        1800,
    )
    return runs * STEPS_PER_RUN / (time.perf_counter() - started)


def _enroll(env: _Env, contacts: int) -> float:
    from heedful.governance.models import ActionPolicy
    from heedful.governance.services import Subject
    from heedful.workflows import services
    from heedful.workflows.events import emit_events

    ActionPolicy.objects.update_or_create(action_type="workflows.send_email", defaults={"mode": "auto"})
    services.create_workflow(
        name="campaign",
        definition={
            "trigger": {"event": "customer.onboarded", "reentry": "once_per_subject"},
            "steps": [
                {
                    "id": "mail",
                    "type": "action",
                    "action": "send_email",
                    "params": {"subject": "Welcome", "body": 'Hi {{ contact.first_name|default:"there" }}'},
                }
            ],
        },
        user=None,
        enabled=True,
    )
    started = time.perf_counter()
    batch = 1000
    # An enrolment is bulk work: events recorded a thousand per insert (``emit_events``), matched
    # a hundred per task, their runs advanced fifty per task, their emails sent fifty per connection.
    for first in range(0, contacts, batch):
        emit_events(
            "customer.onboarded",
            (
                (
                    {"contact": {"email": f"c{n}@example.com", "first_name": f"C{n}"}},
                    Subject("contact", str(n), f"c{n}"),
                )
                for n in range(first, min(first + batch, contacts))
            ),
            source="benchmark",
        )
    # The count of distinct Message-IDs, without copying them all twenty times a second.
    _wait(lambda: len(env.sink.received) >= contacts, 36000)
    return time.perf_counter() - started


def run(contacts: int, runs: int, raw_tasks: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="heedful-bench-wf-") as tmp:
        db_url = _fresh_database()
        _setup(db_url, tmp)
        for workers in (1, 2):
            (Path(tmp) / f"w{workers}").mkdir(exist_ok=True)
            env = _Env(Path(tmp) / f"w{workers}", db_url)
            try:
                _start_workers(env, workers)
                results[f"raw_celery_tasks_per_s_{workers}_workers"] = round(_raw_celery(env, raw_tasks), 1)
                results[f"steps_per_s_{workers}_worker{'s' if workers > 1 else ''}"] = round(
                    _steps_per_s(runs, f"w{workers}"), 1
                )
                if workers == 1:
                    results["steps_per_s_1_worker_single_events"] = round(
                        # Another event, so the other measurements see the listeners they always saw.
                        _steps_per_s(runs, "w1-single", one_transaction=False, event="order.shipped"),
                        1,
                    )
                if workers == 2:
                    elapsed = _enroll(env, contacts)
                    results["enroll_contacts"] = contacts
                    results["enroll_measured_s"] = round(elapsed, 1)
                    results["enroll_100k_s"] = round(elapsed * 100_000 / contacts, 1)
                    results["enroll_1m_extrapolated_s"] = round(elapsed * 1_000_000 / contacts, 1)
                    results["duplicate_emails"] = len(env.sink.duplicates())
            finally:
                env.close()
    results["raw_celery_tasks_per_s"] = results["raw_celery_tasks_per_s_1_workers"]
    results["ratio_to_raw_celery"] = round(
        results["steps_per_s_1_worker"] / results["raw_celery_tasks_per_s"], 3
    )
    results["ratio_to_raw_celery_single_events"] = round(
        results["steps_per_s_1_worker_single_events"] / results["raw_celery_tasks_per_s"], 3
    )
    results["ratio_to_raw_celery_2_workers"] = round(
        results["steps_per_s_2_workers"] / results["raw_celery_tasks_per_s_2_workers"], 3
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=300, help="runs of 10 steps for steps/s")
    parser.add_argument("--raw-tasks", type=int, default=3000)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results = run(args.contacts, args.runs, args.raw_tasks)
    summary = summarise(results)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key:40} {value}")
        print()
        print(summary)
    import report

    report.write_block(
        "workflows",
        "\n".join(["### Workflows (issue 5)", "", report.stamp(load_before), "", summary]),
        command="benchmarks/workflows.py",
    )


def summarise(results: dict[str, Any]) -> str:
    """The figures as a markdown table beside the issue's targets."""
    import report

    ratio = results["ratio_to_raw_celery"]
    million = results["enroll_1m_extrapolated_s"]
    rows = [
        [
            "raw Celery no-op tasks/s, 1 worker / 2 workers",
            f"{results['raw_celery_tasks_per_s_1_workers']} / {results['raw_celery_tasks_per_s_2_workers']}",
            "",
        ],
        [
            "workflow steps/s, 1 worker / 2 workers",
            f"{results['steps_per_s_1_worker']} / {results['steps_per_s_2_workers']}",
            "",
        ],
        [
            "steps/s as a share of raw Celery, 1 worker (events in one transaction)",
            ratio,
            "≥ 0.5 — " + ("met" if ratio >= 0.5 else "**missed**"),
        ],
        ["the same, each event in its own transaction", results["ratio_to_raw_celery_single_events"], ""],
        ["the same, 2 workers", results["ratio_to_raw_celery_2_workers"], ""],
        [
            f"enrol {results['enroll_contacts']:,} contacts and deliver their emails to the SMTP sink, s",
            results["enroll_measured_s"],
            "",
        ],
        [
            "the same scaled to 100k / 1M contacts, s",
            f"{results['enroll_100k_s']} / {million}",
            "1M < 3,600 s — " + ("met" if million < 3600 else "**missed**"),
        ],
        ["duplicate emails at the sink", results["duplicate_emails"], "0"],
    ]
    return report.table(["measure", "value", "target"], rows)


if __name__ == "__main__":
    main()
