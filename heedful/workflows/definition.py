"""The schema of a workflow definition, and its validator.

A definition is plain JSON (YAML on import), for example::

    {
      "trigger": {
        "event": "order.shipped",
        "conditions": [{"path": "event.order.status", "op": "equals", "value": "shipped"}],
        "match": "all",                 # or "any"
        "reentry": "always"             # or "once_per_subject", "not_while_active"
      },
      "retry": {"max_attempts": 5, "backoff": "30s"},
      "steps": [
        {"id": "mail", "type": "action", "action": "send_email",
         "params": {"subject": "Order {{ event.order.number }} is on its way",
                    "body": "Hi {{ contact.first_name|default:\\"there\\" }}, ..."}},
        {"id": "pause", "type": "wait", "duration": "3d"},
        {"id": "reply", "type": "wait", "event": "conversation.customer_replied",
         "timeout": "7d", "on_event": "stop", "on_timeout": "next"},
        {"id": "vip", "type": "condition", "conditions": [...], "then": "next", "else": "end"},
        {"id": "ok", "type": "approval", "question": "Offer a refund?", "on_reject": "stop"},
        {"id": "end", "type": "stop", "reason": "done"}
      ]
    }

Steps run top to bottom. A jump (``then``, ``else``, ``on_event``, ``on_timeout``,
``on_reject``) names a later step's id, ``next`` or ``stop``; jumps only go forward,
so every run ends. ``validate`` returns every problem with its path, in plain words:
``steps[2].duration: must be like "3d" or "12h"``.
"""

from __future__ import annotations

import re
from typing import Any

from heedful.workflows.catalogue import CATALOGUE
from heedful.workflows.expressions import (
    LIST_OPERATORS,
    NO_VALUE_OPERATORS,
    OPERATORS,
    parse_duration,
)

STEP_TYPES = ("action", "condition", "wait", "approval", "stop")
REENTRY = ("always", "once_per_subject", "not_while_active")
JUMP_WORDS = ("next", "stop")
STEP_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
MAX_STEPS = 100

DEFAULT_RETRY = {"max_attempts": 5, "backoff": "30s"}


class DefinitionError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _check_conditions(where: str, conditions: Any, errors: list[str]) -> None:
    if not isinstance(conditions, list):
        errors.append(f"{where}: must be a list of conditions")
        return
    for i, cond in enumerate(conditions):
        at = f"{where}[{i}]"
        if not isinstance(cond, dict):
            errors.append(f"{at}: must be an object with path, op and value")
            continue
        path = cond.get("path")
        if not isinstance(path, str) or not re.match(r"^[a-zA-Z_][\w.]*$", path):
            errors.append(f'{at}.path: must be a dotted path like "event.order.status"')
        op = cond.get("op")
        if op not in OPERATORS:
            errors.append(f"{at}.op: must be one of {', '.join(OPERATORS)}")
            continue
        if op not in NO_VALUE_OPERATORS and "value" not in cond:
            errors.append(f"{at}.value: is required for {op}")
        if op in LIST_OPERATORS and not isinstance(cond.get("value"), list):
            errors.append(f"{at}.value: must be a list for {op}")


def _check_duration(where: str, value: Any, errors: list[str], *, allow_negative: bool = False) -> None:
    try:
        delta = parse_duration(value)
    except ValueError:
        errors.append(f'{where}: must be like "3d" or "12h"')
        return
    if delta.total_seconds() < 0 and not allow_negative:
        errors.append(f"{where}: must not be negative")


def _check_trigger(trigger: Any, errors: list[str]) -> None:
    if not isinstance(trigger, dict):
        errors.append("trigger: must be an object with an event")
        return
    event = trigger.get("event")
    if event not in CATALOGUE:
        errors.append(f"trigger.event: {event!r} is not in the event catalogue")
    if "conditions" in trigger:
        _check_conditions("trigger.conditions", trigger["conditions"], errors)
    if trigger.get("match", "all") not in ("all", "any"):
        errors.append('trigger.match: must be "all" or "any"')
    if trigger.get("reentry", "always") not in REENTRY:
        errors.append(f"trigger.reentry: must be one of {', '.join(REENTRY)}")


def _check_jump(where: str, target: Any, index: int, positions: dict[str, int], errors: list[str]) -> None:
    if target in JUMP_WORDS:
        return
    if not isinstance(target, str) or target not in positions:
        errors.append(f'{where}: must be "next", "stop" or the id of a later step')
    elif positions[target] <= index:
        errors.append(f"{where}: can only jump forward (step {target!r} comes before this one)")


def _check_action(where: str, step: dict[str, Any], errors: list[str]) -> None:
    from heedful.workflows.actions import WORKFLOW_ACTIONS

    name = step.get("action")
    spec = WORKFLOW_ACTIONS.get(name) if isinstance(name, str) else None
    if spec is None:
        errors.append(f"{where}.action: must be one of {', '.join(sorted(WORKFLOW_ACTIONS))}")
        return
    params = step.get("params", {})
    if not isinstance(params, dict):
        errors.append(f"{where}.params: must be an object")
        return
    for required in spec.required_params:
        if params.get(required) in (None, ""):
            errors.append(f"{where}.params.{required}: is required for {name}")
    for key in sorted(set(params) - set(spec.required_params) - set(spec.optional_params)):
        errors.append(f"{where}.params.{key}: {name} has no such setting")
    for extra in spec.validate(params):
        errors.append(f"{where}.params.{extra}")


def _check_step(i: int, step: Any, positions: dict[str, int], errors: list[str]) -> None:
    where = f"steps[{i}]"
    if not isinstance(step, dict):
        errors.append(f"{where}: must be an object")
        return
    kind = step.get("type")
    if kind not in STEP_TYPES:
        errors.append(f"{where}.type: must be one of {', '.join(STEP_TYPES)}")
        return
    if kind == "action":
        _check_action(where, step, errors)
        _check_jump(f"{where}.on_reject", step.get("on_reject", "next"), i, positions, errors)
    elif kind == "condition":
        _check_conditions(f"{where}.conditions", step.get("conditions"), errors)
        if step.get("match", "all") not in ("all", "any"):
            errors.append(f'{where}.match: must be "all" or "any"')
        _check_jump(f"{where}.then", step.get("then", "next"), i, positions, errors)
        _check_jump(f"{where}.else", step.get("else", "stop"), i, positions, errors)
    elif kind == "wait":
        _check_wait(where, i, step, positions, errors)
    elif kind == "approval":
        if not isinstance(step.get("question"), str) or not step["question"].strip():
            errors.append(f"{where}.question: say what the approver decides")
        _check_jump(f"{where}.on_reject", step.get("on_reject", "stop"), i, positions, errors)


def _check_wait(
    where: str, i: int, step: dict[str, Any], positions: dict[str, int], errors: list[str]
) -> None:
    forms = [key for key in ("duration", "until", "event") if key in step]
    if len(forms) != 1:
        errors.append(f"{where}: a wait needs exactly one of duration, until or event")
        return
    if "duration" in step:
        _check_duration(f"{where}.duration", step["duration"], errors)
    elif "until" in step:
        if not isinstance(step["until"], str) or not step["until"]:
            errors.append(f'{where}.until: must be a path to a date, like "event.appointment.starts_at"')
        if "offset" in step:
            _check_duration(f"{where}.offset", step["offset"], errors, allow_negative=True)
    else:
        if step["event"] not in CATALOGUE:
            errors.append(f"{where}.event: {step['event']!r} is not in the event catalogue")
        if "timeout" not in step:
            errors.append(f'{where}.timeout: a wait for an event needs a timeout, like "7d"')
        else:
            _check_duration(f"{where}.timeout", step["timeout"], errors)
        match = step.get("match", {})
        if not isinstance(match, dict):
            errors.append(
                f'{where}.match: must map payload paths to values, like {{"conversation_id": "..."}}'
            )
        _check_jump(f"{where}.on_event", step.get("on_event", "next"), i, positions, errors)
        _check_jump(f"{where}.on_timeout", step.get("on_timeout", "next"), i, positions, errors)


def validate(definition: Any) -> list[str]:
    """Every problem in ``definition``, each as ``path: what is wrong``; empty when valid."""
    errors: list[str] = []
    if not isinstance(definition, dict):
        return ["definition: must be an object with a trigger and steps"]
    _check_trigger(definition.get("trigger"), errors)
    retry = definition.get("retry", DEFAULT_RETRY)
    if not isinstance(retry, dict):
        errors.append("retry: must be an object with max_attempts and backoff")
    else:
        attempts = retry.get("max_attempts", DEFAULT_RETRY["max_attempts"])
        if not isinstance(attempts, int) or not 1 <= attempts <= 20:
            errors.append("retry.max_attempts: must be a whole number from 1 to 20")
        _check_duration("retry.backoff", retry.get("backoff", DEFAULT_RETRY["backoff"]), errors)
    steps = definition.get("steps")
    if not isinstance(steps, list) or not steps:
        errors.append("steps: must be a non-empty list")
        return errors
    if len(steps) > MAX_STEPS:
        errors.append(f"steps: at most {MAX_STEPS} steps")
    positions: dict[str, int] = {}
    for i, step in enumerate(steps):
        step_id = step.get("id") if isinstance(step, dict) else None
        if not isinstance(step_id, str) or not STEP_ID_RE.match(step_id):
            errors.append(f"steps[{i}].id: must be short lowercase letters, digits, - or _")
        elif step_id in positions:
            errors.append(f"steps[{i}].id: {step_id!r} is used twice")
        else:
            positions[step_id] = i
    for i, step in enumerate(steps):
        _check_step(i, step, positions, errors)
    unknown = sorted(set(definition) - {"trigger", "steps", "retry"})
    if unknown:
        errors.append(f"definition: unknown keys {', '.join(unknown)}")
    return errors


def check(definition: Any) -> dict[str, Any]:
    errors = validate(definition)
    if errors:
        raise DefinitionError(errors)
    return definition


def jump_index(target: str, index: int, steps: list[dict[str, Any]]) -> int | None:
    """Where a jump lands: the index of the next step to run, or None to stop."""
    if target == "stop":
        return None
    if target == "next":
        return index + 1
    for j, step in enumerate(steps):
        if step["id"] == target:
            return j
    return None  # validated definitions never get here


def retry_policy(definition: dict[str, Any]) -> tuple[int, float]:
    retry = {**DEFAULT_RETRY, **definition.get("retry", {})}
    return int(retry["max_attempts"]), parse_duration(retry["backoff"]).total_seconds()
