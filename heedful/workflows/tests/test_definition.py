from __future__ import annotations

from heedful.workflows.definition import validate
from heedful.workflows.tests.factories import definition, email_step


def test_a_complete_definition_is_valid() -> None:
    assert (
        validate(
            definition(
                {
                    "id": "vip",
                    "type": "condition",
                    "conditions": [{"path": "event.order.total", "op": "gt", "value": 50}],
                    "then": "next",
                    "else": "end",
                },
                email_step(),
                {"id": "pause", "type": "wait", "duration": "3d"},
                {
                    "id": "reply",
                    "type": "wait",
                    "event": "conversation.customer_replied",
                    "timeout": "7d",
                    "on_event": "end",
                },
                {"id": "ok", "type": "approval", "question": "Send the voucher?"},
                {"id": "end", "type": "stop", "reason": "done"},
                conditions=[{"path": "event.order.status", "op": "equals", "value": "shipped"}],
            )
        )
        == []
    )


def test_errors_name_the_path_and_say_what_is_wrong() -> None:
    errors = validate(
        definition(
            email_step(),
            {"id": "w", "type": "wait", "duration": "3 days"},
            {"id": "c", "type": "condition", "conditions": [{"path": "event.x", "op": "bigger", "value": 1}]},
            event="order.teleported",
        )
    )
    assert errors == [
        "trigger.event: 'order.teleported' is not in the event catalogue",
        'steps[1].duration: must be like "3d" or "12h"',
        "steps[2].conditions[0].op: must be one of equals, not_equals, in, not_in, gt, gte, lt, lte, "
        "contains, exists, not_exists",
    ]


def test_jumps_only_go_forward_so_every_run_ends() -> None:
    errors = validate(
        definition(
            {"id": "a", "type": "stop"},
            {"id": "b", "type": "condition", "conditions": [], "then": "a"},
        )
    )
    assert errors == ["steps[1].then: can only jump forward (step 'a' comes before this one)"]


def test_it_reports_missing_action_params_unknown_params_and_duplicate_ids() -> None:
    errors = validate(
        definition(
            {
                "id": "m",
                "type": "action",
                "action": "send_email",
                "params": {"subject": "Hi", "colour": "red"},
            },
            {"id": "m", "type": "action", "action": "fax"},
        )
    )
    assert errors == [
        "steps[1].id: 'm' is used twice",
        "steps[0].params.body: is required for send_email",
        "steps[0].params.colour: send_email has no such setting",
        "steps[1].action: must be one of "
        "add_timeline_entry, ask_csat, call_webhook, create_task, notify_user, send_email, tag",
    ]


def test_a_wait_for_an_event_needs_a_timeout() -> None:
    errors = validate(definition({"id": "w", "type": "wait", "event": "lead.replied"}))
    assert errors == ['steps[0].timeout: a wait for an event needs a timeout, like "7d"']


def test_a_definition_must_have_steps() -> None:
    assert validate({"trigger": {"event": "order.shipped"}, "steps": []}) == [
        "steps: must be a non-empty list"
    ]
