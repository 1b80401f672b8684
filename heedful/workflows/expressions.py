"""Pure helpers for workflow definitions: durations, payload paths, conditions, tokens.

No Django here: these run the same in the engine, the dry run and the editor's
validation, and each evaluation returns the plain words that explain it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

DURATION_RE = re.compile(r"^\s*(-)?(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}

MISSING = object()


def parse_duration(text: str) -> timedelta:
    """``"3d"`` → 3 days. Units: s, m, h, d, w; a leading ``-`` for offsets before a date.

    >>> parse_duration("12h")
    datetime.timedelta(seconds=43200)
    """
    match = DURATION_RE.match(str(text))
    if not match:
        raise ValueError(f'must be like "3d" or "12h", not {text!r}')
    sign, amount, unit = match.groups()
    delta = timedelta(**{_UNITS[unit]: int(amount)})
    return -delta if sign else delta


def describe_duration(text: str) -> str:
    match = DURATION_RE.match(str(text))
    if not match:
        return str(text)
    sign, amount, unit = match.groups()
    words = f"{amount} {_UNIT_WORDS[unit]}{'' if amount == '1' else 's'}"
    return f"{words} before" if sign else words


def resolve(context: Any, path: str) -> Any:
    """Read ``event.order.status`` from nested dicts (and list indexes); MISSING if absent."""
    current = context
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


# --- Conditions ---------------------------------------------------------------------------

OPERATORS = {
    "equals": "is",
    "not_equals": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "contains": "contains",
    "exists": "is present",
    "not_exists": "is absent",
}
NO_VALUE_OPERATORS = {"exists", "not_exists"}
LIST_OPERATORS = {"in", "not_in"}


@dataclass(frozen=True)
class Evaluation:
    path: str
    op: str
    expected: Any
    actual: Any
    passed: bool
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "op": self.op,
            "expected": self.expected,
            "actual": self.actual,
            "passed": self.passed,
            "text": self.text,
        }


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        return actual is not MISSING and actual not in (None, "")
    if op == "not_exists":
        return actual is MISSING or actual in (None, "")
    if actual is MISSING:
        return op in {"not_equals", "not_in"}
    if op in {"equals", "not_equals"}:
        same = actual == expected or (_number(actual) is not None and _number(actual) == _number(expected))
        return same if op == "equals" else not same
    if op in LIST_OPERATORS:
        inside = actual in expected or str(actual) in [str(v) for v in expected]
        return inside if op == "in" else not inside
    if op == "contains":
        if isinstance(actual, str):
            return str(expected).lower() in actual.lower()
        return isinstance(actual, list | tuple) and expected in actual
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        # ISO dates and other strings compare as text; mixed types never pass.
        if isinstance(actual, str) and isinstance(expected, str):
            left_s, right_s = actual, expected
            return {"gt": left_s > right_s, "gte": left_s >= right_s, "lt": left_s < right_s}.get(
                op, left_s <= right_s
            )
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right}.get(op, left <= right)


def _show(value: Any) -> str:
    if value is MISSING:
        return "absent"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def evaluate_condition(condition: dict[str, Any], context: dict[str, Any]) -> Evaluation:
    path, op = condition["path"], condition["op"]
    expected = condition.get("value")
    actual = resolve(context, path)
    passed = _compare(op, actual, expected)
    words = OPERATORS[op]
    wanted = "" if op in NO_VALUE_OPERATORS else f" {_show(expected)}"
    text = f"{path} {words}{wanted}: it is {_show(actual)} → {'yes' if passed else 'no'}"
    return Evaluation(
        path=path,
        op=op,
        expected=expected,
        actual=None if actual is MISSING else actual,
        passed=passed,
        text=text,
    )


def evaluate_all(
    conditions: list[dict[str, Any]], context: dict[str, Any], match: str = "all"
) -> tuple[bool, list[Evaluation]]:
    """Evaluate every condition (all of them, so the explanation is complete)."""
    evaluations = [evaluate_condition(c, context) for c in conditions]
    if not evaluations:
        return True, []
    passed = [e.passed for e in evaluations]
    return (any(passed) if match == "any" else all(passed)), evaluations


# --- Personalisation tokens ---------------------------------------------------------------

TOKEN_RE = re.compile(r"\{\{\s*([a-zA-Z_][\w.]*)\s*(?:\|\s*default\s*:\s*\"([^\"]*)\"\s*)?\}\}")


class MissingValueError(ValueError):
    """A token has no value and no default: better not to send than to send "Hi ,"."""


def render(template: str, context: dict[str, Any]) -> str:
    """Replace ``{{ contact.first_name|default:"there" }}`` tokens with values.

    An empty value (absent, None, or only spaces, as a contact without a first name has)
    counts as missing: it takes the default, and a token without a default raises
    ``MissingValueError`` rather than send "Hi ,".

    >>> render('Hi {{ contact.first_name|default:"there" }}', {"contact": {"first_name": ""}})
    'Hi there'
    """

    def substitute(match: re.Match[str]) -> str:
        path, default = match.group(1), match.group(2)
        value = resolve(context, path)
        if value is MISSING or value is None or (isinstance(value, str) and not value.strip()):
            if default is None:
                raise MissingValueError(f"{{{{ {path} }}}} has no value and no default")
            return default
        return str(value)

    return TOKEN_RE.sub(substitute, template)


def tokens_in(template: str) -> list[str]:
    return [m.group(1) for m in TOKEN_RE.finditer(template)]


def render_params(params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Render a step's parameters; a token without a value names the parameter it is in,
    e.g. ``subject: {{ contact.first_name }} has no value and no default``.

    >>> render_params({"subject": "Hi {{ contact.first_name }}"}, {"contact": {"first_name": "Ana"}})
    {'subject': 'Hi Ana'}
    """
    rendered = {}
    for key, value in params.items():
        try:
            rendered[key] = render_value(value, context)
        except MissingValueError as exc:
            raise MissingValueError(f"{key}: {exc}") from None
    return rendered


def render_value(value: Any, context: dict[str, Any]) -> Any:
    """Render tokens in strings inside nested lists and dicts (webhook bodies, params)."""
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    return value
