"""Whether anyone listens to an event is one query, asked afresh for every event (no cache a
workflow switched on in another process could miss)."""

from __future__ import annotations

from typing import Any

import pytest

from heedful.workflows.events import _anyone_listens
from heedful.workflows.models import RunStatus, WorkflowRun
from heedful.workflows.tests.factories import make_workflow

pytestmark = pytest.mark.django_db


def test_nobody_listens_without_workflows_or_waiting_runs(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        assert _anyone_listens("order.shipped") is False


def test_a_workflow_listens_to_its_trigger_even_when_off(django_assert_num_queries: Any) -> None:
    make_workflow(enabled=False)

    with django_assert_num_queries(1):
        assert _anyone_listens("order.shipped") is True
    assert _anyone_listens("order.delayed") is False


def test_a_run_waiting_for_an_event_listens_to_it(django_assert_num_queries: Any) -> None:
    workflow = make_workflow()
    WorkflowRun.objects.create(
        workflow=workflow,
        version=workflow.current_version,
        status=RunStatus.WAITING,
        waiting_event="lead.replied",
    )

    with django_assert_num_queries(1):
        assert _anyone_listens("lead.replied") is True
    WorkflowRun.objects.update(status=RunStatus.COMPLETED)
    assert _anyone_listens("lead.replied") is False
