"""A stand-in for heedful.ml's FaqMatcher with the same surface, for tests of the Django side.

It scores by word overlap, so tests can say exactly which question matches and how confidently:
the confidence is the share of the best example's words found in the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class FakeMatch:
    answer_id: str | None
    confidence: float
    threshold: float
    explanation: str
    candidates: list[tuple[str, float]] = field(default_factory=list)
    model_version: str = "fake-1"


class FakeFaqMatcher:
    threshold = 0.6
    trained = 0

    def __init__(self, examples: list[tuple[str, str]]):
        self.examples = [(_words(text), label) for text, label in examples]

    @classmethod
    def train(cls, examples: list[tuple[str, str]]) -> FakeFaqMatcher:
        cls.trained += 1
        return cls(examples)

    def match(self, text: str) -> FakeMatch:
        words = _words(text)
        best: dict[str, float] = {}
        for example, label in self.examples:
            score = len(words & example) / len(example) if example else 0.0
            best[label] = max(best.get(label, 0.0), round(score, 2))
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
        top_label, top_score = ranked[0] if ranked else (None, 0.0)
        confident = top_score >= self.threshold
        return FakeMatch(
            answer_id=top_label if confident else None,
            confidence=top_score,
            threshold=self.threshold,
            explanation=f"{int(top_score * 100)} % of the words of the closest question",
            candidates=ranked[:3],
        )
