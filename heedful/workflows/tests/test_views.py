"""The workflow pages: who may see and change them, and what they show."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from heedful.workflows import gallery
from heedful.workflows.events import emit_event
from heedful.workflows.models import RunStatus, WorkflowDefinition, WorkflowRun
from heedful.workflows.tests.conftest import TaskQueue
from heedful.workflows.tests.factories import ROSA, email_step, make_workflow, shipped_payload


@pytest.mark.django_db
def test_the_list_shows_run_counts_in_a_fixed_number_of_queries(
    owner_client: Client, django_assert_max_num_queries: object
) -> None:
    for n in range(3):
        make_workflow(name=f"Flow {n}")
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        response = owner_client.get(reverse("workflows:list"))
    assert response.status_code == 200
    assert response.content.decode().count("Flow ") == 3


@pytest.mark.django_db
def test_agents_cannot_see_workflows_and_managers_cannot_change_them(
    agent_client: Client, manager_client: Client
) -> None:
    workflow = make_workflow()
    assert agent_client.get(reverse("workflows:list")).status_code == 403
    assert manager_client.get(reverse("workflows:list")).status_code == 200
    response = manager_client.post(reverse("workflows:toggle", args=[workflow.pk]), {"enabled": "0"})
    assert response.status_code == 403
    assert WorkflowDefinition.objects.get(pk=workflow.pk).enabled is True


@pytest.mark.django_db
def test_the_owner_turns_a_workflow_off(owner_client: Client) -> None:
    workflow = make_workflow()
    response = owner_client.post(reverse("workflows:toggle", args=[workflow.pk]), {"enabled": "0"})
    assert response.status_code == 302
    assert WorkflowDefinition.objects.get(pk=workflow.pk).enabled is False


@pytest.mark.django_db
def test_the_editor_shows_every_problem_by_its_path_and_saves_nothing(owner_client: Client) -> None:
    response = owner_client.post(
        reverse("workflows:new"),
        {
            "name": "Broken",
            "document": (
                '{"trigger": {"event": "order.shipped"}, '
                '"steps": [{"id": "w", "type": "wait", "duration": "soon"}]}'
            ),
        },
    )
    assert response.status_code == 200
    assert "steps[0].duration: must be like &quot;3d&quot; or &quot;12h&quot;" in response.content.decode()
    assert WorkflowDefinition.objects.count() == 0


@pytest.mark.django_db
def test_the_live_check_answers_with_the_errors_fragment(owner_client: Client) -> None:
    response = owner_client.post(
        reverse("workflows:validate"), {"document": "steps: []"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert 'id="definition-errors"' in body
    assert "trigger: must be an object with an event" in body


@pytest.mark.django_db
def test_editing_saves_a_new_version(owner_client: Client) -> None:
    workflow = make_workflow()
    document = '{"trigger": {"event": "order.delivered"}, "steps": [{"id": "s", "type": "stop"}]}'
    response = owner_client.post(
        reverse("workflows:edit", args=[workflow.pk]),
        {"name": "Delivered", "document": document, "note": "new trigger"},
    )
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert (workflow.name, workflow.trigger_event, workflow.current_version.number) == (
        "Delivered",
        "order.delivered",
        2,
    )


@pytest.mark.django_db
def test_export_then_import_gives_the_same_definition(owner_client: Client) -> None:
    workflow = make_workflow(email_step(), name="Round trip")
    for fmt in ("json", "yaml"):
        exported = owner_client.get(
            reverse("workflows:export", args=[workflow.pk]), {"format": fmt}
        ).content.decode()
        response = owner_client.post(reverse("workflows:import"), {"text": exported})
        assert response.status_code == 302
    copies = WorkflowDefinition.objects.filter(name="Round trip").order_by("pk")
    assert [c.current_version.definition for c in copies] == [workflow.current_version.definition] * 3


YAML_WITH_A_DATE = """
trigger: {event: order.shipped, conditions: [{path: event.order.date, op: equals, value: %s}]}
steps: [{id: mail, type: action, action: send_email, params: {subject: Hi, body: Hello}}]
"""


@pytest.mark.django_db
def test_a_yaml_date_stays_text_and_an_impossible_one_is_no_crash(owner_client: Client) -> None:
    # YAML reads 2026-03-01 as a date (a JSON column cannot hold one) and 2026-02-30 raised
    # "day is out of range for month": both were server errors.
    for day in ("2026-03-01", "2026-02-30"):
        response = owner_client.post(reverse("workflows:import"), {"text": YAML_WITH_A_DATE % day})
        assert response.status_code == 302
    values = [
        w.current_version.definition["trigger"]["conditions"][0]["value"]
        for w in WorkflowDefinition.objects.order_by("pk")
    ]
    assert values == ["2026-03-01", "2026-02-30"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text", ['{"trigger": {"event": "order.shipped"}, "steps": [], "x": NaN}', "value: !!binary aGVsbG8="]
)
def test_values_a_json_column_cannot_hold_are_refused_with_a_reason(owner_client: Client, text: str) -> None:
    response = owner_client.post(reverse("workflows:import"), {"text": text})

    assert response.status_code == 200
    assert (
        "holds a value a workflow cannot store: NaN, Infinity, binary data or a set"
        in response.content.decode()
    )
    assert not WorkflowDefinition.objects.exists()


@pytest.mark.django_db
def test_installing_a_template_is_one_click(owner_client: Client) -> None:
    response = owner_client.post(reverse("workflows:gallery-install", args=["order-shipped"]))
    workflow = WorkflowDefinition.objects.get(template_key="order-shipped")
    assert response.status_code == 302
    assert (workflow.enabled, workflow.trigger_event) == (True, "order.shipped")
    assert "installed" in owner_client.get(reverse("workflows:gallery")).content.decode()


def test_every_gallery_template_is_valid() -> None:
    from heedful.workflows.definition import validate

    keys = [t.key for t in gallery.templates()]
    assert keys == sorted(keys)
    assert len(keys) >= 8
    assert {t.key: validate(t.definition) for t in gallery.templates()} == {k: [] for k in keys}


@pytest.mark.django_db(transaction=True)
def test_the_run_page_says_why_it_started_and_what_each_step_did(
    owner_client: Client, tasks: TaskQueue, auto_email: None
) -> None:
    make_workflow(conditions=[{"path": "event.order.status", "op": "equals", "value": "shipped"}])
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert run.status == RunStatus.COMPLETED
    body = owner_client.get(reverse("workflows:run-detail", args=[run.pk])).content.decode()
    assert "matched the trigger of v1" in body
    assert "event.order.status is &quot;shipped&quot;: it is &quot;shipped&quot; → yes" in body
    assert "Email to rosa@example.com queued for delivery" in body


@pytest.mark.django_db(transaction=True)
def test_the_event_log_explains_a_workflow_that_did_not_fire(owner_client: Client, tasks: TaskQueue) -> None:
    make_workflow(
        name="Only DHL", conditions=[{"path": "event.order.carrier", "op": "equals", "value": "DHL"}]
    )
    make_workflow(name="Switched off", enabled=False)
    emit_event("order.shipped", shipped_payload(carrier="UPS"), ROSA)
    tasks.drain()
    body = owner_client.get(reverse("workflows:events")).content.decode()
    assert "Conditions not met: event.order.carrier is &quot;DHL&quot;: it is &quot;UPS&quot; → no" in body
    assert "The workflow is off" in body


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_can_be_retried_from_its_page(
    owner_client: Client, tasks: TaskQueue, auto_email: None
) -> None:
    make_workflow(email_step(params={"subject": "Hi {{ contact.nickname }}", "body": "x"}))
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert run.status == RunStatus.FAILED
    response = owner_client.post(reverse("workflows:run-retry", args=[run.pk]))
    assert response.status_code == 302
    assert WorkflowRun.objects.get(pk=run.pk).status == RunStatus.RUNNING


@pytest.mark.django_db
def test_the_dry_run_page_lists_skips_outcomes_actions_and_emails(owner_client: Client) -> None:
    # The report's counters once reached the template as Counters, whose ``.items`` a template
    # reads as the key "items" (0): every dry run with a result was a server error.
    emit_event("order.shipped", shipped_payload("A-1", carrier="DHL"), ROSA)
    emit_event("order.shipped", shipped_payload("A-2", carrier="UPS"), ROSA)
    workflow = make_workflow(conditions=[{"path": "event.order.carrier", "op": "equals", "value": "DHL"}])

    response = owner_client.get(reverse("workflows:dry-run", args=[workflow.pk]), {"days": "7"})

    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "<li>1 × conditions not met: event.order.carrier</li>",
        "<li>1 × completed</li>",
        "<li>1 × send_email (ask)</li>",
        "<strong>Order A-1 is on its way</strong> → rosa@example.com",
    ):
        assert text in html


@pytest.mark.django_db
def test_a_workflows_runs_filter_by_state_and_person_and_page_through_all(owner_client: Client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    workflow = make_workflow()
    start = timezone.now() - timedelta(days=10)
    made = [
        WorkflowRun.objects.create(
            workflow=workflow,
            version=workflow.current_version,
            subject_label="Rosa Costa" if i == 3 else f"Person {i}",
            status=RunStatus.FAILED if i % 10 == 0 else RunStatus.COMPLETED,
            started_at=start + timedelta(minutes=i),
        )
        for i in range(60)
    ]
    url = reverse("workflows:detail", args=[workflow.pk])

    first = owner_client.get(url)
    second = owner_client.get(url, {"page": 2})
    failed = owner_client.get(url, {"status": "failed"})
    rosa = owner_client.get(url, {"about": "rosa"})

    newest_first = [r.pk for r in reversed(made)]
    assert [r.pk for r in first.context["runs"]] == newest_first[:50]
    assert [r.pk for r in second.context["runs"]] == newest_first[50:]
    assert [r.pk for r in failed.context["runs"]] == [made[i].pk for i in (50, 40, 30, 20, 10, 0)]
    assert [r.pk for r in rosa.context["runs"]] == [made[3].pk]
    assert "60 runs" in first.content.decode()


@pytest.mark.django_db
def test_the_event_log_finds_the_events_about_one_person_beyond_the_latest_fifty(
    owner_client: Client,
) -> None:
    from heedful.workflows.models import Event

    anna = Event.objects.create(
        name="contact.created", payload={}, subject_type="contact", subject_id="1", subject_label="Anna Berg"
    )
    for i in range(60):
        Event.objects.create(
            name="contact.created",
            payload={},
            subject_type="contact",
            subject_id=str(i + 2),
            subject_label=f"Someone {i}",
        )

    latest = owner_client.get(reverse("workflows:events"))
    found = owner_client.get(reverse("workflows:events"), {"about": "anna"})
    last_page = owner_client.get(reverse("workflows:events"), {"page": 2})

    assert anna.pk not in [row.event.pk for row in latest.context["rows"]]
    assert [row.event.pk for row in found.context["rows"]] == [anna.pk]
    assert [row.event.pk for row in last_page.context["rows"]][-1] == anna.pk
