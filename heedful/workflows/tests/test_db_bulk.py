"""``insert_each`` and ``update_each`` write what ``save()`` writes (on PostgreSQL as one array
per column, elsewhere as VALUES rows), and give each new row its key in order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from heedful.db_bulk import insert_each, update_each
from heedful.workflows.models import RunStatus, StepRun, WorkflowRun
from heedful.workflows.tests.factories import make_workflow

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
COLUMNS = ("step_id", "step_index", "status", "explanation", "detail", "error", "decision_id", "finished_at")


def _runs(count: int) -> list[WorkflowRun]:
    workflow = make_workflow()
    version = workflow.versions.get()
    return [
        WorkflowRun.objects.create(workflow=workflow, version=version, subject_id=str(n))
        for n in range(count)
    ]


def test_inserted_rows_get_their_keys_in_order_and_the_values_save_would_write() -> None:
    run = _runs(1)[0]
    rows = [
        StepRun(
            run=run, step_id="a", step_index=0, step_type="condition", status="done", detail={"x": [1, "é"]}
        ),
        StepRun(run=run, step_id="b", step_index=1, step_type="wait", status="waiting", explanation="O'Neil"),
        StepRun(
            run=run,
            step_id="c",
            step_index=2,
            step_type="action",
            status="failed",
            error="no",
            decision_id=2**40,
            finished_at=WHEN,
        ),
    ]

    insert_each(rows)

    assert [r.pk for r in rows] == sorted(r.pk for r in rows)
    stored = {r.pk: r for r in StepRun.objects.filter(run=run)}
    assert [tuple(getattr(stored[r.pk], c) for c in COLUMNS) for r in rows] == [
        ("a", 0, "done", "", {"x": [1, "é"]}, "", None, None),
        ("b", 1, "waiting", "O'Neil", {}, "", None, None),
        ("c", 2, "failed", "", {}, "no", 2**40, WHEN),
    ]


def test_a_single_row_is_inserted_too() -> None:
    run = _runs(1)[0]
    row = StepRun(run=run, step_id="a", step_index=0, step_type="stop", status="done")

    insert_each([row])

    assert StepRun.objects.get().pk == row.pk


def test_updated_rows_take_each_its_own_values_nulls_and_json_included() -> None:
    first, second, _untouched = _runs(3)
    first.status, first.context, first.wake_at, first.error = (
        RunStatus.WAITING,
        {"steps": {"a": 1}},
        WHEN,
        "late",
    )
    second.status, second.context, second.wake_at, second.cursor = RunStatus.COMPLETED, {}, None, 3

    assert update_each([first, second], ["status", "context", "wake_at", "error", "cursor"]) == 2

    rows = WorkflowRun.objects.order_by("pk").values_list("status", "context", "wake_at", "error", "cursor")
    assert list(rows) == [
        (RunStatus.WAITING, {"steps": {"a": 1}}, WHEN, "late", 0),
        (RunStatus.COMPLETED, {}, None, "", 3),
        (RunStatus.RUNNING, {}, None, "", 0),
    ]
