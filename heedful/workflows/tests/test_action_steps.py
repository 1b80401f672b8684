"""Action steps: asking for CSAT through the inbox, tokens with empty values, and no task
left behind for governance when a step has already run its action."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from heedful.governance.models import ProposalStatus, ProposedAction
from heedful.governance.services import Subject
from heedful.inbox.models import Channel, CsatRequest, Status
from heedful.inbox.tests.factories import ConversationFactory
from heedful.workflows.definition import validate
from heedful.workflows.dryrun import dry_run
from heedful.workflows.events import emit_event, has_enabled_listener
from heedful.workflows.models import RunStatus, StepRun, WorkflowRun
from heedful.workflows.tests.conftest import TaskQueue
from heedful.workflows.tests.factories import ROSA, definition, email_step, make_workflow, shipped_payload

pytestmark = pytest.mark.django_db(transaction=True)

ASK = {"id": "ask", "type": "action", "action": "ask_csat"}


def resolved(conversation: Any) -> dict[str, Any]:
    return {"contact": None, "conversation_id": conversation.pk, "assignee_email": ""}


def about(conversation: Any) -> Subject:
    return Subject("conversation", str(conversation.pk), f"Conversation #{conversation.pk}")


def test_ask_csat_asks_the_customer_of_the_triggering_conversation(tasks: TaskQueue) -> None:
    workflow = make_workflow(ASK, event="conversation.resolved")
    conversation = ConversationFactory(channel=Channel.CHAT, status=Status.RESOLVED)

    emit_event("conversation.resolved", resolved(conversation), about(conversation))
    tasks.drain()

    run = WorkflowRun.objects.get(workflow=workflow)
    assert run.status == RunStatus.COMPLETED
    question = CsatRequest.objects.get(conversation=conversation)
    proposal = ProposedAction.objects.get()
    assert (proposal.action_type, proposal.status, proposal.params) == (
        "inbox.ask_csat",
        ProposalStatus.DONE,
        {"conversation_id": conversation.pk, "workflow_run_id": run.pk, "workflow": "shipped"},
    )
    assert proposal.result == {
        "summary": f"Asked how conversation #{conversation.pk} went",
        "csat_id": question.pk,
        "message_id": question.message_id,
    }
    assert StepRun.objects.get(run=run).explanation == (
        f"Ask the customer how it went (CSAT): Asked how conversation #{conversation.pk} went "
        "(by policy (auto))."
    )


def test_a_conversation_reopened_during_the_wait_is_not_asked(tasks: TaskQueue) -> None:
    make_workflow(ASK, event="conversation.resolved")
    conversation = ConversationFactory(channel=Channel.CHAT, status=Status.OPEN)

    emit_event("conversation.resolved", resolved(conversation), about(conversation))
    tasks.drain()

    assert WorkflowRun.objects.get().status == RunStatus.COMPLETED
    assert ProposedAction.objects.get().result["summary"] == (
        f"Not asked: conversation #{conversation.pk} was asked before, is not resolved, "
        "or has no way to reach the customer"
    )
    assert CsatRequest.objects.count() == 0


def test_ask_csat_in_a_run_without_a_conversation_fails_visibly(tasks: TaskQueue) -> None:
    make_workflow(ASK)

    emit_event("order.shipped", shipped_payload(), ROSA)
    tasks.drain()

    run = WorkflowRun.objects.get()
    assert (run.status, run.error) == (
        RunStatus.FAILED,
        "This run is not about a conversation (its event has no conversation_id).",
    )
    assert (ProposedAction.objects.count(), CsatRequest.objects.count()) == (0, 0)


def test_ask_csat_takes_a_conversation_number_or_a_token() -> None:
    def errors(conversation_id: Any) -> list[str]:
        step = {**ASK, "params": {"conversation_id": conversation_id}}
        return validate(definition(step, event="conversation.resolved"))

    assert errors(88) == []
    assert errors("{{ event.conversation_id }}") == []
    assert errors("the last one") == [
        'steps[0].params.conversation_id: must be a number or a token like "{{ event.conversation_id }}"'
    ]


def test_only_an_enabled_workflow_that_asks_takes_over_the_inbox_question() -> None:
    tag_only = {"id": "tag", "type": "action", "action": "tag", "params": {"tag": "resolved"}}
    make_workflow(tag_only, name="Tag", event="conversation.resolved")
    asking = make_workflow(ASK, name="CSAT", event="conversation.resolved", enabled=False)

    assert has_enabled_listener("conversation.resolved") is True
    assert has_enabled_listener("conversation.resolved", action="ask_csat") is False

    asking.enabled = True
    asking.save(update_fields=["enabled"])

    assert has_enabled_listener("conversation.resolved", {"conversation_id": 1}, action="ask_csat") is True


def test_an_action_step_run_inline_leaves_no_execution_task(tasks: TaskQueue, auto_email: None) -> None:
    make_workflow(email_step("first"), email_step("second"))

    emit_event("order.shipped", shipped_payload(), ROSA)
    ran = tasks.drain()

    assert ran == ["match", "advance", "deliver", "deliver"]
    assert list(ProposedAction.objects.values_list("status", "execution_count")) == [
        (ProposalStatus.DONE, 1),
        (ProposalStatus.DONE, 1),
    ]
    assert len(mail.outbox) == 2


# --- Tokens with empty values ---------------------------------------------------------------

NAMELESS = {"contact": {"id": 12, "email": "rosa@example.com", "first_name": ""}}


def greeting(body: str) -> dict[str, Any]:
    return email_step(params={"subject": "Your order", "body": body})


def test_an_empty_first_name_takes_the_default(tasks: TaskQueue, auto_email: None) -> None:
    make_workflow(greeting('Hi {{ contact.first_name|default:"there" }},'))

    emit_event("order.shipped", {**shipped_payload(), **NAMELESS}, ROSA)
    tasks.drain()

    [message] = mail.outbox
    assert message.body == "Hi there,"


def test_an_empty_first_name_without_default_fails_the_send_naming_the_token(
    tasks: TaskQueue, auto_email: None
) -> None:
    make_workflow(greeting("Hi {{ contact.first_name }},"))

    emit_event("order.shipped", {**shipped_payload(), **NAMELESS}, ROSA)
    tasks.drain()

    run = WorkflowRun.objects.get()
    assert (run.status, run.error) == (
        RunStatus.FAILED,
        "body: {{ contact.first_name }} has no value and no default",
    )
    assert (mail.outbox, ProposedAction.objects.count()) == ([], 0)


def test_the_preview_says_which_token_is_empty() -> None:
    emit_event("order.shipped", {**shipped_payload(), **NAMELESS}, ROSA)
    emit_event("order.shipped", shipped_payload(), ROSA)

    report = dry_run(definition(greeting("Hi {{ contact.first_name }},")))

    assert [example.outcome for example in report.examples] == [
        "would fail: body: {{ contact.first_name }} has no value and no default",
        "completed",
    ]
    assert [email["body"] for email in report.emails] == ["Hi Rosa,"]
