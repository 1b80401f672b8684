"""Threshold selection: largest coverage at the target wrong-answer rate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heedful.ml.threshold import CONSERVATIVE_THRESHOLD, choose_threshold


def test_picks_lowest_threshold_meeting_target() -> None:
    conf = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6] * 10
    correct = [True, True, True, False, True, False] * 10
    choice = choose_threshold(conf, correct, [True] * 60, target_wrong_rate=0.05)
    assert choice.threshold == 0.85  # 0 wrong of 30, counted as 1 of 31: 3.2 %
    assert choice.coverage == 0.5
    assert choice.thin is False
    loose = choose_threshold(conf, correct, [True] * 60, target_wrong_rate=0.25)
    assert loose.threshold == 0.7
    assert loose.wrong_rate == pytest.approx(0.2)


def test_a_cut_is_taken_only_when_one_more_wrong_answer_would_still_meet_the_target() -> None:
    # 2 wrong of 40 is exactly 5 %; with one wrong answer more (3 of 41) it is 7.3 %. The cut
    # that merely looks good on a few dozen questions is what made small knowledge bases promise
    # 5 % and give 7 %.
    conf = [0.9] * 30 + [0.5] * 10
    correct = [True] * 38 + [False] * 2
    assert choose_threshold(conf, correct, [True] * 40).threshold == 0.9
    # The same share of wrong answers on ten times the questions is shown to be within 5 %... no:
    # 20 of 400 counted as 21 of 401 is 5.2 %; 19 of 400 (20 of 401, 4.99 %) is.
    conf = [0.9] * 300 + [0.5] * 100
    assert choose_threshold(conf, [True] * 380 + [False] * 20, [True] * 400).threshold == 0.9
    assert choose_threshold(conf, [True] * 381 + [False] * 19, [True] * 400).threshold == 0.5
    # Nobody can be shown never to be wrong: 1,000 right answers are too few to show 0 %, and
    # the matcher is as cautious as with too few questions (not handing everything off).
    never = choose_threshold([0.3] * 1000, [True] * 1000, [True] * 1000, target_wrong_rate=0.0)
    assert (never.threshold, never.thin) == (CONSERVATIVE_THRESHOLD, True)
    assert "1000 held-out questions cannot show a 0% wrong-answer rate" in never.note


def test_too_few_to_show_the_target_is_thin_and_evidence_against_it_hands_off() -> None:
    # 60 right answers at 1 %: 0 of 60 meets it, 1 of 61 (1.6 %) cannot show it.
    conf = [0.9] * 6 + [0.5 - i * 0.005 for i in range(54)]
    few = choose_threshold(conf, [True] * 60, [True] * 60, target_wrong_rate=0.01)
    assert (few.threshold, few.thin, few.wrong_rate, few.coverage) == (CONSERVATIVE_THRESHOLD, True, 0.0, 0.1)
    # The same questions with the top one wrong: no threshold meets 1 %, whatever the count.
    bad = choose_threshold(conf, [False] + [True] * 59, [True] * 60, target_wrong_rate=0.01)
    assert (bad.threshold, bad.thin) == (1.0, False)
    assert "no threshold reaches" in bad.note


def test_out_of_scope_answers_count_as_wrong() -> None:
    conf = [0.9] * 40 + [0.8] * 10 + [0.95] * 10
    correct = [True] * 50 + [False] * 10
    scope = [True] * 50 + [False] * 10
    choice = choose_threshold(conf, correct, scope, target_wrong_rate=0.05)
    assert choice.threshold == 1.0  # OOS sits on top: nothing can be answered at 5 %
    assert "no threshold reaches" in choice.note


def test_ties_are_answered_together() -> None:
    # Answering only the 59 right ones would meet 1 %; the 60 questions share one confidence,
    # so the wrong one is answered too (1 of 60: 1.7 %).
    conf = [0.9] * 60
    correct = [True] * 59 + [False]
    choice = choose_threshold(conf, correct, [True] * 60, target_wrong_rate=0.01)
    assert choice.threshold == 1.0


def test_the_model_s_own_hand_offs_are_never_counted_as_answered() -> None:
    # 97 right answers and 3 questions the out-of-scope class won (confidence 0). Answering all
    # 100 would be 3 % wrong, within 5 %; a threshold of 0 would then "answer" questions the
    # matcher hands off, and the evaluation would report none of them as handed off.
    conf = [0.9 - i * 0.005 for i in range(97)] + [0.0] * 3
    correct = [True] * 97 + [False] * 3
    scope = [True] * 97 + [False] * 3

    choice = choose_threshold(conf, correct, scope, target_wrong_rate=0.05)

    assert choice.threshold == pytest.approx(0.42)
    assert choice.coverage == 1.0
    assert choice.wrong_rate == 0.0


def test_thin_data_is_conservative() -> None:
    choice = choose_threshold([0.3, 0.2], [True, True], [True, True], target_wrong_rate=0.05)
    assert choice.thin
    assert choice.threshold == CONSERVATIVE_THRESHOLD


def test_oos_share_reweights() -> None:
    conf = [0.9] * 190 + [0.5] * 10 + [0.6] * 5
    correct = [True] * 200 + [False] * 5
    scope = [True] * 200 + [False] * 5
    plain = choose_threshold(conf, correct, scope, target_wrong_rate=0.05)
    heavy = choose_threshold(conf, correct, scope, target_wrong_rate=0.05, oos_share=0.5)
    assert plain.threshold == 0.5
    assert heavy.threshold == 0.9


@given(
    st.lists(st.tuples(st.floats(0, 1), st.booleans(), st.booleans()), min_size=1, max_size=80),
    st.sampled_from([0.0, 0.01, 0.05, 0.2]),
)
def test_achieved_rate_never_exceeds_target(rows: list[tuple[float, bool, bool]], target: float) -> None:
    conf = [r[0] for r in rows]
    choice = choose_threshold(conf, [r[1] for r in rows], [r[2] for r in rows], target_wrong_rate=target)
    answered = [r for r in rows if r[0] >= choice.threshold]
    if not choice.thin and answered:
        wrong = sum(not (ok and scope) for _, ok, scope in answered)
        assert (wrong + 1) / (len(answered) + 1) <= target + 1e-9


def test_nothing_held_out_gives_the_cautious_threshold_not_a_hand_off_of_everything() -> None:
    choice = choose_threshold([], [], [])
    assert choice.threshold == CONSERVATIVE_THRESHOLD
    assert choice.thin
    assert (choice.n_in_scope, choice.n_out_of_scope, choice.coverage) == (0, 0, 0.0)
    assert "only 0 held-out questions" in choice.note
