"""Choosing the answer/hand-off threshold on held-out data (never on the test set).

Procedure (documented in docs/model-cards/faq-matcher.md): score every held-out question, in scope
or not; answering a question is *wrong* when it is out of scope or the top answer is not its label.
Sort by confidence, walk down, and keep the lowest threshold whose wrong-answer rate among the
answered questions stays at or below the target: that gives the largest coverage at that rate.
``oos_share`` optionally re-weights out-of-scope questions to the share expected in real traffic.
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

    >>> c = choose_threshold([0.9, 0.8, 0.7, 0.6], [True, True, False, True], [True] * 4,
    ...                      target_wrong_rate=0.0)
    >>> c.threshold, c.coverage, c.thin
    (0.8, 0.5, True)
    """
    if not 0.0 <= target_wrong_rate < 1.0:
        raise ValueError("target_wrong_rate must be in [0, 1)")
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    scope = np.asarray(in_scope, dtype=bool)
    n_in, n_out = int(scope.sum()), int((~scope).sum())
    weights = np.ones(len(conf))
    if oos_share is not None and n_in and n_out:
        weights[~scope] = (oos_share / (1 - oos_share)) * n_in / n_out
    order = np.lexsort((np.arange(len(conf)), -conf))  # by confidence desc, stable
    wrong = (~(ok & scope))[order] * weights[order]
    answered = np.cumsum(weights[order])
    rate = np.cumsum(wrong) / np.maximum(answered, 1e-12)
    sorted_conf = conf[order]
    # Only cut between distinct confidence values: ties are answered together.
    last_of_tie = np.r_[sorted_conf[1:] != sorted_conf[:-1], True] if len(conf) else np.zeros(0, dtype=bool)
    # Cutting at 0 would count the model's own hand-offs as answered (the matcher never answers
    # them), and report an out-of-scope recall of 0 for a matcher that hands many off.
    feasible = np.where((rate <= target_wrong_rate + 1e-12) & last_of_tie & (sorted_conf > 0))[0]
    notes = []
    if not len(conf):
        # Nothing held out to calibrate on (every answer has one phrasing, say): the cautious
        # threshold below, not 1.0, which would hand off every question of the knowledge base.
        threshold, achieved = 0.0, 0.0
    elif len(feasible):
        cut = int(feasible.max())
        threshold = float(sorted_conf[cut])
        achieved = float(rate[cut])
    else:
        threshold, achieved = 1.0, 0.0
        notes.append("no threshold reaches the target wrong-answer rate: everything is handed off")
    answered_mask = conf >= threshold
    coverage = float((answered_mask & scope).sum() / n_in) if n_in else 0.0
    thin = n_in + n_out < MIN_CALIBRATION_QUESTIONS
    if thin:
        notes.append(
            f"only {n_in + n_out} held-out questions (< {MIN_CALIBRATION_QUESTIONS}): too few to "
            f"calibrate; threshold raised to at least {CONSERVATIVE_THRESHOLD}"
        )
        threshold = max(threshold, CONSERVATIVE_THRESHOLD)
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
    )
