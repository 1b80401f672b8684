"""The culture check (C15): Edmondson's seven items scored with items 1, 3 and 5 reversed, and a
plain-language reading at each band."""

from __future__ import annotations

import pytest

from heedful.surveys import instruments


def test_the_culture_check_reverses_items_one_three_and_five() -> None:
    answers = {"ps_1": [2], "ps_2": [6], "ps_3": [1], "ps_4": [5], "ps_5": [3], "ps_6": [6], "ps_7": [7]}
    # 6 + 6 + 7 + 5 + 5 + 6 + 7 = 42 over 7 items.
    assert instruments.instrument_score("psych_safety", answers) == 6.0
    # Agreeing that mistakes are held against you is the worst answer, not the best.
    assert instruments.instrument_score("psych_safety", {"ps_1": [7, 7]}) == 1.0
    assert instruments.CULTURE_CHECK == ["ps_1", "ps_2", "ps_3", "ps_4", "ps_5", "ps_6", "ps_7", "comment"]


@pytest.mark.parametrize(
    ("value", "starts"),
    [
        (7.0, "People feel safe to speak up"),
        (5.5, "People feel safe to speak up"),
        (5.49, "Mixed: people speak up on some things"),
        (4.0, "Mixed: people speak up on some things"),
        (3.99, "People likely keep problems and mistakes to themselves. Fix this before automating more"),
        (1.0, "People likely keep problems and mistakes to themselves. Fix this before automating more"),
    ],
)
def test_each_culture_check_band_reads_in_plain_words(value: float, starts: str) -> None:
    assert instruments.interpret("psych_safety", value).startswith(starts)


def test_the_culture_check_can_be_chosen_as_a_set_when_creating_a_survey() -> None:
    from heedful.surveys.forms import SurveyForm

    form = SurveyForm(
        {"title": "Culture", "preset": "culture", "k": 5, "recurrence": "once", "round_days": 7}
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["question_codes"] == instruments.CULTURE_CHECK
    assert "preset" not in form.cleaned_data
    mixed = SurveyForm(
        {
            "title": "Both",
            "preset": "",
            "question_codes": ["enps", "ps_2"],
            "k": 5,
            "recurrence": "once",
            "round_days": 7,
        }
    )
    assert mixed.is_valid(), mixed.errors
    assert mixed.cleaned_data["question_codes"] == ["enps", "ps_2"]
    empty = SurveyForm({"title": "None", "preset": "", "k": 5, "recurrence": "once", "round_days": 7})
    assert dict(empty.errors) == {"question_codes": ["Choose a set of questions or tick at least one."]}
