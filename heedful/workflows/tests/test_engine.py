"""Events start runs; steps run once each, explain themselves and go through the trust spine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from heedful.governance import services as trust
from heedful.governance.models import DecisionRecord, ProposalStatus, ProposedAction
from heedful.workflows import engine, services
from heedful.workflows.events import UnknownEventError, emit_event
from heedful.workflows.models import (
    Consideration,
    Event,
    OutboxMessage,
    RunStatus,
    StepRun,
    StepStatus,
    WorkflowRun,
)
from heedful.workflows.tests.conftest import TaskQueue
from heedful.workflows.tests.factories import ROSA, email_step, make_workflow, shipped_payload

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_shipped_order_sends_one_email_with_a_decision_record(tasks: TaskQueue, auto_email: None) -> None:
    workflow = make_workflow()
    event = emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()

    run = WorkflowRun.objects.get(workflow=workflow)
    assert (run.status, run.event_id, run.subject_label) == (RunStatus.COMPLETED, event.pk, "Rosa Costa")
    assert run.started_because["summary"] == f"order.shipped (event #{event.pk}) matched the trigger of v1"
    [message] = mail.outbox
    assert (message.to, message.subject) == (["rosa@example.com"], "Order A-1001 is on its way")
    assert message.body == "Hi Rosa, track it at https://t.example/1."
    outbox = OutboxMessage.objects.get()
    assert message.extra_headers["Message-ID"] == outbox.payload["message_id"]
    assert (outbox.status, outbox.attempts) == ("sent", 1)
    step = StepRun.objects.get(run=run)
    assert step.status == StepStatus.DONE
    assert (
        step.explanation == "Send an email: Email to rosa@example.com queued for delivery (by policy (auto))."
    )
    decision = DecisionRecord.objects.get(pk=step.decision_id)
    assert (decision.actor_kind, decision.actor_name, decision.actor_version) == ("workflow", "shipped", "v1")
    assert decision.subject_label == "Rosa Costa"
    assert decision.outcome == "Done: Email to rosa@example.com queued for delivery"
    assert ProposedAction.objects.get().status == ProposalStatus.DONE


def test_running_a_step_twice_does_nothing_twice(tasks: TaskQueue, auto_email: None) -> None:
    make_workflow()
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    run = WorkflowRun.objects.get()
    # A duplicate task, a redelivered message: the run is done, nothing changes.
    services.advance_run(run.pk)
    services.match_event(run.event_id)
    tasks.drain()
    assert (WorkflowRun.objects.count(), ProposedAction.objects.count(), OutboxMessage.objects.count()) == (
        1,
        1,
        1,
    )
    assert len(mail.outbox) == 1


def test_an_email_waits_for_approval_by_default_then_goes_once_approved(
    tasks: TaskQueue, owner: object
) -> None:
    make_workflow(email_step(), {"id": "end", "type": "stop", "reason": "all sent"})
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    run = WorkflowRun.objects.get()
    proposal = ProposedAction.objects.get()
    assert (run.status, run.waiting_proposal_id, proposal.status) == (
        RunStatus.WAITING,
        proposal.pk,
        "pending",
    )
    assert mail.outbox == []

    trust.approve_action(proposal.pk, user=owner)  # type: ignore[arg-type]
    tasks.drain()
    run.refresh_from_db()
    assert (run.status, run.error) == (RunStatus.STOPPED, "all sent")
    assert len(mail.outbox) == 1
    assert StepRun.objects.get(run=run, step_id="mail").explanation.endswith(
        "(approved by olivia@example.com)."
    )


def test_a_rejected_email_is_not_sent_and_the_run_goes_on(tasks: TaskQueue, owner: object) -> None:
    make_workflow(email_step(), {"id": "later", "type": "wait", "duration": "1d"})
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    proposal = ProposedAction.objects.get()
    trust.reject_action(proposal.pk, user=owner, reason="She asked us not to write")  # type: ignore[arg-type]
    services.sweep()  # beat notices the decision
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert (run.status, run.cursor) == (RunStatus.WAITING, 1)
    step = StepRun.objects.get(run=run, step_id="mail")
    assert step.explanation == (
        "Send an email: not done, rejected by olivia@example.com: She asked us not to write; "
        "so go on to the next step."
    )
    assert mail.outbox == []


def test_unmet_conditions_skip_with_the_values_that_decided(tasks: TaskQueue) -> None:
    workflow = make_workflow(conditions=[{"path": "event.order.carrier", "op": "equals", "value": "DHL"}])
    event = emit_event("order.shipped", shipped_payload(carrier="UPS"), ROSA)
    tasks.drain()
    consideration = Consideration.objects.get(event=event, workflow=workflow)
    assert (consideration.started, consideration.reason) == (
        False,
        'Conditions not met: event.order.carrier is "DHL": it is "UPS" → no',
    )
    assert WorkflowRun.objects.count() == 0


def test_matching_stamps_the_event_once_and_a_second_matching_starts_nothing(tasks: TaskQueue) -> None:
    make_workflow({"id": "end", "type": "stop"})
    event = emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.queued.clear()
    before = timezone.now()

    first = services.match_event(event.pk)
    after = timezone.now()
    again = services.match_event(event.pk)

    assert (len(first), again) == (1, [])
    assert Event.objects.filter(pk=event.pk, matched_at__gte=before, matched_at__lte=after).count() == 1
    assert Consideration.objects.filter(event=event).count() == 1
    assert services.match_event(event.pk + 1000) == []


def test_a_workflow_that_is_off_says_so(tasks: TaskQueue) -> None:
    workflow = make_workflow(enabled=False)
    event = emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    assert Consideration.objects.get(event=event, workflow=workflow).reason == "The workflow is off"


def test_once_per_subject_starts_one_run_per_contact(tasks: TaskQueue, auto_email: None) -> None:
    workflow = make_workflow(reentry="once_per_subject")
    emit_event("order.shipped", shipped_payload("A-1"), ROSA)
    tasks.drain()
    second = emit_event("order.shipped", shipped_payload("A-2"), ROSA)
    tasks.drain()
    first_run = WorkflowRun.objects.get()
    assert Consideration.objects.get(event=second, workflow=workflow).reason == (
        f"Runs once per contact, and run #{first_run.pk} already did"
    )


def test_an_event_nobody_listens_for_is_recorded_and_not_queued(tasks: TaskQueue) -> None:
    event = emit_event("lead.created", {"lead": {"id": 1}}, ROSA)
    assert event.matched_at is not None
    assert tasks.names() == []


def test_unknown_event_names_are_refused() -> None:
    with pytest.raises(UnknownEventError):
        emit_event("order.teleported", {})


def test_a_duration_wait_is_picked_up_by_the_sweep_when_due(tasks: TaskQueue, auto_email: None) -> None:
    make_workflow({"id": "pause", "type": "wait", "duration": "3d"}, email_step())
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert run.status == RunStatus.WAITING
    assert services.sweep(timezone.now() + timedelta(days=2))["runs"] == 0
    assert services.sweep(timezone.now() + timedelta(days=3, minutes=1))["runs"] == 1
    tasks.drain()
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert len(mail.outbox) == 1


def _reply_workflow() -> None:
    make_workflow(
        {
            "id": "reply",
            "type": "wait",
            "event": "conversation.customer_replied",
            "timeout": "7d",
            "on_event": "stop",
            "on_timeout": "next",
        },
        email_step(
            "nudge",
            params={"subject": "Still interested?", "body": 'Hi {{ contact.first_name|default:"there" }}'},
        ),
        event="lead.created",
    )


def test_waiting_for_a_reply_stops_when_the_contact_replies(tasks: TaskQueue, auto_email: None) -> None:
    _reply_workflow()
    emit_event("lead.created", {"contact": {"email": "rosa@example.com"}}, ROSA)
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert (run.status, run.waiting_event) == (RunStatus.WAITING, "conversation.customer_replied")
    # Someone else's reply does not count.
    emit_event(
        "conversation.customer_replied",
        {"conversation_id": 1},
        engine.trust.Subject("contact", "99", "Other"),
    )
    tasks.drain()
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    reply = emit_event("conversation.customer_replied", {"conversation_id": 2}, ROSA)
    tasks.drain()
    run.refresh_from_db()
    assert (run.status, run.error) == (RunStatus.STOPPED, "conversation.customer_replied arrived")
    step = StepRun.objects.get(run=run, step_id="reply")
    assert step.explanation.startswith("conversation.customer_replied arrived at ")
    assert step.explanation.endswith(f"(event #{reply.pk}), so stop the run.")
    assert mail.outbox == []


def test_no_reply_within_the_timeout_takes_the_timeout_branch(tasks: TaskQueue, auto_email: None) -> None:
    _reply_workflow()
    emit_event("lead.created", {"contact": {"email": "rosa@example.com"}}, ROSA)
    tasks.drain()
    services.sweep(timezone.now() + timedelta(days=7, minutes=1))
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert (run.status, run.error) == (RunStatus.COMPLETED, "")
    assert StepRun.objects.get(run=run, step_id="reply").explanation == (
        "No conversation.customer_replied within 7 days, so go on to the next step."
    )
    assert len(mail.outbox) == 1


def test_a_condition_step_explains_the_branch(tasks: TaskQueue) -> None:
    make_workflow(
        {
            "id": "big",
            "type": "condition",
            "conditions": [{"path": "event.order.total", "op": "gte", "value": 100}],
            "else": "small",
        },
        {"id": "vip", "type": "stop", "reason": "big order"},
        {"id": "small", "type": "stop", "reason": "small order"},
    )
    emit_event("order.shipped", shipped_payload(total="20"), ROSA)
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert run.error == "small order"
    step = StepRun.objects.get(run=run, step_id="big")
    assert step.explanation == "All conditions did not hold, so jump to step 'small'."
    assert step.detail["evaluations"][0]["text"] == 'event.order.total ≥ 100: it is "20" → no'


def test_a_missing_token_fails_the_run_visibly_instead_of_sending(tasks: TaskQueue, auto_email: None) -> None:
    make_workflow(email_step(params={"subject": "Hi {{ contact.nickname }}", "body": "x"}))
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert (run.status, run.error) == (
        RunStatus.FAILED,
        "subject: {{ contact.nickname }} has no value and no default",
    )
    assert (
        OutboxMessage.objects.count(),
        ProposedAction.objects.count(),
        DecisionRecord.objects.count(),
    ) == (0, 0, 0)


def test_a_failing_step_backs_off_then_can_be_retried_from_that_step(
    tasks: TaskQueue, auto_email: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_workflow({"id": "first", "type": "condition", "conditions": []}, email_step())
    calls = {"n": 0}
    real = engine.STEP_TYPES["action"]

    def flaky(sc: engine.StepContext) -> engine.StepResult:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise RuntimeError("mail template store is down")
        return real(sc)

    monkeypatch.setitem(engine.STEP_TYPES, "action", flaky)
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert run.status == RunStatus.RETRYING
    assert run.error == "RuntimeError: mail template store is down (attempt 1 of 3; next try in 1s)"
    for _ in range(2):
        services.sweep(timezone.now() + timedelta(minutes=1))
        tasks.drain()
    run.refresh_from_db()
    assert (run.status, run.cursor) == (RunStatus.FAILED, 1)
    assert list(StepRun.objects.filter(run=run, step_id="mail").values_list("attempt", "status")) == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
    ]

    services.retry_run(run.pk, user=None)
    tasks.drain()
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert StepRun.objects.filter(run=run, step_id="first").count() == 1  # earlier steps not repeated
    assert len(mail.outbox) == 1


def test_a_run_keeps_the_version_it_started_with(tasks: TaskQueue) -> None:
    workflow = make_workflow(
        {"id": "pause", "type": "wait", "duration": "1d"}, {"id": "a", "type": "stop", "reason": "v1"}
    )
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    services.save_version(
        workflow.pk,
        definition={
            "trigger": {"event": "order.shipped"},
            "steps": [{"id": "b", "type": "stop", "reason": "v2"}],
        },
        user=None,
    )
    services.sweep(timezone.now() + timedelta(days=2))
    tasks.drain()
    run = WorkflowRun.objects.get()
    assert (run.version.number, run.error) == (1, "v1")


def test_an_approval_step_waits_for_a_person_and_a_rejection_takes_on_reject(
    tasks: TaskQueue, owner: object
) -> None:
    make_workflow(
        {
            "id": "ok",
            "type": "approval",
            "question": "Offer {{ contact.first_name }} a voucher?",
            "on_reject": "no",
        },
        {"id": "yes", "type": "stop", "reason": "voucher"},
        {"id": "no", "type": "stop", "reason": "no voucher"},
    )
    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()
    proposal = ProposedAction.objects.get()
    assert (proposal.action_type, proposal.params["question"]) == (
        "workflows.continue_run",
        "Offer Rosa a voucher?",
    )
    trust.reject_action(proposal.pk, user=owner, reason="Not this time")  # type: ignore[arg-type]
    services.sweep()
    tasks.drain()
    assert WorkflowRun.objects.get().error == "no voucher"


def test_the_sweep_requeues_a_lost_event_once_per_period(tasks: TaskQueue) -> None:
    make_workflow()
    event = emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.queued.clear()  # the match task was lost with the broker
    later = timezone.now() + timedelta(minutes=5)
    assert services.sweep(later)["events"] == 1
    assert services.sweep(later + timedelta(seconds=1))["events"] == 0
    tasks.drain()
    assert WorkflowRun.objects.get().event_id == event.pk
    assert services.sweep(later + timedelta(minutes=10))["events"] == 0


def test_the_sweep_requeues_a_run_whose_task_was_lost(tasks: TaskQueue, auto_email: None) -> None:
    make_workflow()
    emit_event("order.shipped", shipped_payload(), ROSA)
    _name, match, args = tasks.queued.pop(0)
    match(*args)  # matched: the run exists; then its advance task is lost
    tasks.queued.clear()
    run = WorkflowRun.objects.get()
    assert run.status == RunStatus.RUNNING
    assert services.sweep(timezone.now() + timedelta(minutes=5))["stalled"] == 1
    tasks.drain()
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert len(mail.outbox) == 1
