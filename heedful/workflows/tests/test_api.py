"""The workflows API: create with validation, emit events, read runs and verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from heedful.workflows.models import Event, WorkflowDefinition
from heedful.workflows.tests.factories import definition, email_step, make_workflow

pytestmark = pytest.mark.django_db


def test_creating_a_workflow_reports_every_problem_by_path(owner: Any, api_client_for: Any) -> None:
    client = api_client_for(owner)
    bad = definition({"id": "w", "type": "wait", "duration": "3 days"})
    response = client.post("/api/v1/workflows/", {"name": "x", "definition": bad}, format="json")
    assert response.status_code == 400
    assert response.json() == {"definition": ['steps[0].duration: must be like "3d" or "12h"']}
    assert WorkflowDefinition.objects.count() == 0

    response = client.post(
        "/api/v1/workflows/", {"name": "Shipped", "definition": definition(email_step())}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["version"], response.json()["trigger_event"]) == (1, "order.shipped")


def test_an_agent_cannot_read_or_emit(agent: Any, api_client_for: Any) -> None:
    client = api_client_for(agent)
    assert client.get("/api/v1/workflows/").status_code == 403
    assert (
        client.post("/api/v1/workflow-events/", {"name": "order.shipped"}, format="json").status_code == 403
    )


def test_another_system_emits_an_event_once_per_key(owner: Any, api_client_for: Any) -> None:
    make_workflow(enabled=False)
    client = api_client_for(owner)
    body = {
        "name": "order.shipped",
        "payload": {"order": {"number": "A-1"}},
        "subject_type": "contact",
        "subject_id": "12",
        "idempotency_key": "shop:A-1:shipped",
    }
    first = client.post("/api/v1/workflow-events/", body, format="json")
    again = client.post("/api/v1/workflow-events/", body, format="json")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert Event.objects.count() == 1
    unknown = client.post("/api/v1/workflow-events/", {**body, "name": "order.teleported"}, format="json")
    assert unknown.status_code == 400


def test_enable_and_retry_answer_404_for_unknown_or_malformed_ids(owner: Any, api_client_for: Any) -> None:
    # Found by schemathesis: the ids went to int() and the services unchecked, a 500 each.
    client = api_client_for(owner)
    for path in ("/api/v1/workflows/null,null/enable/", "/api/v1/workflows/987654/enable/"):
        assert client.post(path, {"enabled": True}, format="json").status_code == 404
    for path in ("/api/v1/workflow-runs/null/retry/", "/api/v1/workflow-runs/987654/retry/"):
        assert client.post(path, {}, format="json").status_code == 404


def test_enable_reads_false_as_false_and_refuses_what_is_not_a_boolean(
    owner: Any, api_client_for: Any
) -> None:
    workflow = make_workflow(enabled=True)
    client = api_client_for(owner)
    url = f"/api/v1/workflows/{workflow.pk}/enable/"
    response = client.post(url, {"enabled": "false"}, format="json")  # bool("false") was True
    assert (response.status_code, response.json()["enabled"]) == (200, False)
    response = client.post(url, {"enabled": "maybe"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"enabled": ["Must be a valid boolean."]}
    assert WorkflowDefinition.objects.get(pk=workflow.pk).enabled is False
    assert client.post(url, {}, format="json").json()["enabled"] is True
