"""Choosing the answer/hand-off threshold on held-out data (never on the test set).

Procedure (documented in docs/model-cards/faq-matcher.md): score every held-out question, in scope
or not; answering a question is *wrong* when it is out of scope or the top answer is not its label.
Sort by confidence, walk down, and keep the lowest threshold whose wrong-answer rate among the
answered questions stays at or below the target: that gives the largest coverage at that rate.
The rate at each cut counts one wrong answer more than the held-out questions gave, (wrong + 1) /
(answered + 1): picking the loosest cut that *looks* good on a few dozen questions otherwise
promises less than it keeps (on small knowledge bases, 7 % wrong answers at a 5 % target and 3 %
at 1 %; docs/model-cards/faq-matcher.md). With thousands of held-out questions the extra one
changes nothing; with 60 no threshold can be shown to be wrong at most 1 time in 100, and the
matcher treats them as too few to calibrate on (below).
``oos_share`` optionally re-weights out-of-scope questions to the share expected in real traffic
(counted with the effective number of questions that weighting leaves).
A confidence of 0 is the model's own hand-off (its out-of-scope class won, or the question was
empty): no threshold answers it, so the threshold is never 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Below this many held-out questions a threshold is a guess: the matcher says so and is cautious.
MIN_CALIBRATION_QUESTIONS = 50
# Cautious threshold used (as a floor) when the calibration data is too thin.
CONSERVATIVE_THRESHOLD = 0.80
# The share of customer questions about something a knowledge base does not cover, which the
# knowledge app calibrates for. It keeps no record of what customers ask outside it, and its
# held-out questions hold about one in ten (the phrasings of answers left out of a fit); but a
# shop's customers also ask about the rest of its trade, and those near misses are what the bot
# answers wrongly most often (`heedful eval small-kbs`). A quarter is an assumption, not a
# measurement: a new knowledge base meets more, a mature one fewer.
ASSUMED_OFF_TOPIC_SHARE = 0.25


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    target_wrong_rate: float
    wrong_rate: float  # achieved on the held-out data
    coverage: float  # share of in-scope held-out questions answered
    n_in_scope: int
    n_out_of_scope: int
    thin: bool
    note: str
    oos_share: float | None = None  # the share out-of-scope questions were weighted to, if any

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_threshold(
    confidence: Sequence[float],
    correct: Sequence[bool],
    in_scope: Sequence[bool],
    *,
    target_wrong_rate: float = 0.05,
    oos_share: float | None = None,
) -> ThresholdChoice:
    """Largest-coverage threshold at ``target_wrong_rate``; see the module docstring.

    2 wrong among 40 answers is 5 %, but counted with one more (3 / 41) it is over the target:

    >>> c = choose_threshold([0.9] * 30 + [0.5] * 10, [True] * 38 + [False] * 2, [True] * 40)
    >>> c.threshold, c.wrong_rate, c.coverage, c.thin
    (0.9, 0.0, 0.75, True)
    """
    if not 0.0 <= target_wrong_rate < 1.0:
        raise ValueError("target_wrong_rate must be in [0, 1)")
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    scope = np.asarray(in_scope, dtype=bool)
    n_in, n_out = int(scope.sum()), int((~scope).sum())
    weights = np.ones(len(conf))
    thin = n_in + n_out < MIN_CALIBRATION_QUESTIONS
    # Too few questions to calibrate on: the cautious floor decides, and re-weighting would let
    # two or three off-topic phrasings stand for a quarter of all questions.
    weighted_to = oos_share if oos_share is not None and n_in and n_out and not thin else None
    if weighted_to is not None:
        weights[~scope] = (weighted_to / (1 - weighted_to)) * n_in / n_out
    order = np.lexsort((np.arange(len(conf)), -conf))  # by confidence desc, stable
    w = weights[order]
    wrong = (~(ok & scope))[order] * w
    answered = np.cumsum(w)
    rate = np.cumsum(wrong) / np.maximum(answered, 1e-12)
    # Re-weighted questions count as fewer independent ones (Kish's effective sample size).
    n_eff = answered**2 / np.maximum(np.cumsum(w**2), 1e-12)
    bound = (rate * n_eff + 1) / (n_eff + 1)
    sorted_conf = conf[order]
    # Only cut between distinct confidence values: ties are answered together.
    last_of_tie = np.r_[sorted_conf[1:] != sorted_conf[:-1], True] if len(conf) else np.zeros(0, dtype=bool)
    # Cutting at 0 would count the model's own hand-offs as answered (the matcher never answers
    # them), and report an out-of-scope recall of 0 for a matcher that hands many off.
    cuttable = last_of_tie & (sorted_conf > 0)
    shown = np.where((bound <= target_wrong_rate + 1e-12) & cuttable)[0]
    met = np.where((rate <= target_wrong_rate + 1e-12) & cuttable)[0]
    notes = []
    too_few = False
    if not len(conf):
        # Nothing held out to calibrate on (every answer has one phrasing, say): the cautious
        # threshold below, not 1.0, which would hand off every question of the knowledge base.
        threshold, achieved = 0.0, 0.0
    elif len(shown):
        cut = int(shown.max())
        threshold = float(sorted_conf[cut])
        achieved = float(rate[cut])
    elif len(met):
        # The questions met the target but are too few to show it (the one wrong answer more
        # breaks it everywhere): as unknown as a thin knowledge base, not as bad as one whose
        # answers were wrong too often. Handing everything off would punish adding phrasings.
        cut = int(met.max())
        threshold = float(sorted_conf[cut])
        achieved = float(rate[cut])
        too_few = True
    else:
        threshold, achieved = 1.0, 0.0
        notes.append("no threshold reaches the target wrong-answer rate: everything is handed off")
    thin = thin or too_few
    if thin:
        why = (
            f"only {n_in + n_out} held-out questions (< {MIN_CALIBRATION_QUESTIONS})"
            if n_in + n_out < MIN_CALIBRATION_QUESTIONS
            else f"{n_in + n_out} held-out questions cannot show a {target_wrong_rate:.0%} wrong-answer rate"
        )
        notes.append(f"{why}: too few to calibrate; threshold raised to at least {CONSERVATIVE_THRESHOLD}")
        threshold = max(threshold, CONSERVATIVE_THRESHOLD)
    # At the threshold the matcher uses, floor included.
    coverage = float(((conf >= threshold) & scope).sum() / n_in) if n_in else 0.0
    if n_out == 0:
        notes.append("no out-of-scope examples: the wrong-answer rate ignores off-topic questions")
    return ThresholdChoice(
        threshold=round(threshold, 6),
        target_wrong_rate=target_wrong_rate,
        wrong_rate=round(achieved, 6),
        coverage=round(coverage, 6),
        n_in_scope=n_in,
        n_out_of_scope=n_out,
        thin=thin,
        note="; ".join(notes) or "calibrated",
        oos_share=weighted_to,
    )
