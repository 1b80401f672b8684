from __future__ import annotations

from heedful.governance.queries import Factor, explain_factors


def test_factors_are_ordered_by_weight_and_scaled_to_the_heaviest() -> None:
    factors = explain_factors(
        [
            {"text": "waited 26 h", "weight": 0.25},
            {"text": "negative wording", "weight": 0.4},
            {"text": "long-time customer", "weight": -0.1},
        ]
    )

    assert factors == [
        Factor("negative wording", 0.4, 100),
        Factor("waited 26 h", 0.25, 62),
        Factor("long-time customer", -0.1, 25),
    ]
    assert [f.raises for f in factors] == [True, True, False]


def test_factors_without_weights_keep_their_order_and_show_no_bar() -> None:
    factors = explain_factors([{"text": "first order"}, {"text": "asked for a person", "weight": None}])

    assert factors == [Factor("first order", None, 0), Factor("asked for a person", None, 0)]


def test_no_factors_explain_nothing() -> None:
    assert explain_factors([]) == []
