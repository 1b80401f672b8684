from __future__ import annotations

from datetime import timedelta

import pytest

from heedful.workflows.expressions import (
    MissingValueError,
    evaluate_all,
    evaluate_condition,
    parse_duration,
    render,
    render_params,
)

CONTEXT = {"event": {"order": {"status": "shipped", "total": "42.50", "tags": ["gift"]}}, "contact": {}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", timedelta(days=3)),
        ("12h", timedelta(hours=12)),
        ("45s", timedelta(seconds=45)),
        ("-1d", timedelta(days=-1)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_it_parses_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_it_refuses_a_duration_without_unit() -> None:
    with pytest.raises(ValueError, match='must be like "3d"'):
        parse_duration("3")


@pytest.mark.parametrize(
    ("op", "value", "passed"),
    [
        ("equals", "shipped", True),
        ("not_equals", "shipped", False),
        ("in", ["shipped", "delivered"], True),
        ("not_in", ["delivered"], True),
        ("gt", 40, True),
        ("lte", "42.5", True),
        ("lt", 10, False),
        ("exists", None, True),
    ],
)
def test_conditions_compare_payload_values(op: str, value: object, passed: bool) -> None:
    path = "event.order.total" if op in {"gt", "lte", "lt"} else "event.order.status"
    assert evaluate_condition({"path": path, "op": op, "value": value}, CONTEXT).passed is passed


def test_a_condition_explains_itself_in_plain_words() -> None:
    evaluation = evaluate_condition({"path": "event.order.total", "op": "gt", "value": 100}, CONTEXT)
    assert evaluation.text == 'event.order.total > 100: it is "42.50" → no'
    assert evaluation.actual == "42.50"


def test_an_absent_value_fails_comparisons_and_says_absent() -> None:
    evaluation = evaluate_condition({"path": "event.order.carrier", "op": "equals", "value": "DHL"}, CONTEXT)
    assert (evaluation.passed, evaluation.text) == (False, 'event.order.carrier is "DHL": it is absent → no')


def test_contains_looks_inside_lists_and_text() -> None:
    assert evaluate_condition({"path": "event.order.tags", "op": "contains", "value": "gift"}, CONTEXT).passed
    assert evaluate_condition(
        {"path": "event.order.status", "op": "contains", "value": "SHIP"}, CONTEXT
    ).passed


def test_any_passes_when_one_condition_holds_and_still_explains_all() -> None:
    passed, evaluations = evaluate_all(
        [
            {"path": "event.order.status", "op": "equals", "value": "x"},
            {"path": "event.order.total", "op": "gt", "value": 1},
        ],
        CONTEXT,
        "any",
    )
    assert passed is True
    assert [e.passed for e in evaluations] == [False, True]


def test_tokens_use_values_then_defaults() -> None:
    assert (
        render('Hi {{ contact.first_name|default:"there" }}, {{event.order.status}}', CONTEXT)
        == "Hi there, shipped"
    )


def test_a_token_without_value_or_default_refuses_to_render() -> None:
    with pytest.raises(MissingValueError, match=r"\{\{ contact.first_name \}\} has no value"):
        render("Hi {{ contact.first_name }}", CONTEXT)


@pytest.mark.parametrize("empty", ["", None, "   "])
def test_an_empty_value_takes_the_default(empty: str | None) -> None:
    assert render('Hi {{ contact.first_name|default:"there" }}!', {"contact": {"first_name": empty}}) == (
        "Hi there!"
    )


@pytest.mark.parametrize("empty", ["", None, "   "])
def test_an_empty_value_without_default_refuses_to_render_and_says_which_token(empty: str | None) -> None:
    with pytest.raises(MissingValueError) as raised:
        render("Hi {{ contact.first_name }}!", {"contact": {"first_name": empty}})
    assert str(raised.value) == "{{ contact.first_name }} has no value and no default"


def test_a_missing_token_in_a_step_names_the_parameter_it_is_in() -> None:
    params = {"subject": "Order {{ event.order.status }}", "body": {"text": ["Hi {{ contact.first_name }}"]}}
    with pytest.raises(MissingValueError) as raised:
        render_params(params, CONTEXT)
    assert str(raised.value) == "body: {{ contact.first_name }} has no value and no default"


def test_zero_and_false_are_values_not_empty() -> None:
    assert render("{{ a }} {{ b }}", {"a": 0, "b": False}) == "0 False"
