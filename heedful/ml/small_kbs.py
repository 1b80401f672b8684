"""Does the bot keep its promised wrong-answer rate on a small business's knowledge base?

``heedful eval intents`` fits one matcher on a whole dataset and calibrates it on the dataset's
validation split. A small business has neither: a dozen answers about one trade, a few ways of
asking each, no examples of what it does not cover, and customers who ask about the rest of
that trade too. This evaluation builds many such knowledge bases from any intent dataset and
trains each exactly as the knowledge app does, then checks the answers on the dataset's test
questions:

1. Intents are grouped into topics by k-means on the mean sentence embedding of their training
   questions (about ``TOPIC_SIZE`` intents a topic; TF-IDF when MiniLM is not installed). A
   topic stands for one business's trade.
2. Each draw takes one topic in turn; a fixed random two thirds of its intents become the
   knowledge base, ``phrasings`` training questions each. The topic's other intents are the
   *near-miss* questions: about the business's trade, not in its knowledge base. Questions of
   other topics and the dataset's out-of-scope test questions are the *far* ones.
3. The matcher is trained like the knowledge app's (no validation set, no out-of-scope examples,
   :data:`heedful.ml.threshold.ASSUMED_OFF_TOPIC_SHARE`), and each test question is answered or
   handed off by the full model (``match_batch``; in the product a first pass decides where it
   agreed with the full model on 99.5 % of held-out questions).
4. With ``not_covered`` > 0, that many training questions of each of half the near-miss intents
   (the first half, rounded up) are given to the matcher as out-of-scope examples, as the
   knowledge page's list of questions the knowledge base does not cover gives them after people
   marked wrong answers. The near misses of that half and of the others are always reported
   apart, so that a run with and one without compare half by half.
5. The *realized* wrong-answer rate is the share of answers that are wrong in traffic of
   ``mix`` (by default three quarters questions the knowledge base covers, an eighth near-miss,
   an eighth far): the rate the owner's "at most N in 100 answers wrong" promises.

Everything depends only on the dataset and ``seed``: same input, same figures.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heedful.ml import datasets
from heedful.ml.encoders import minilm_available, shared_minilm
from heedful.ml.faq import OOS_LABEL, FaqMatcher
from heedful.ml.text import NgramTfidf
from heedful.ml.threshold import ASSUMED_OFF_TOPIC_SHARE

TOPIC_SIZE = 15
KB_SHARE = 2 / 3
FAR_QUESTIONS = 150
CENTROID_QUESTIONS = 30


@dataclass(frozen=True)
class Mix:
    """Shares of the traffic a realized rate is computed for (they sum to 1)."""

    covered: float = 0.75
    near_miss: float = 0.125
    far: float = 0.125


@dataclass(frozen=True)
class Draw:
    topic: int
    answers: int  # in the knowledge base
    near_miss_intents: int
    threshold: float
    thin: bool
    coverage: float  # covered questions answered right
    wrong_covered: float  # covered questions answered with another answer
    near_miss_answered: float
    far_answered: float
    realized: float  # wrong answers / answers, in traffic of the mix
    fit_seconds: float
    # Near misses of the first half of the near-miss intents (those ``not_covered`` marks) and
    # of the others (None when there is one near-miss intent).
    near_miss_shown_answered: float | None = None
    near_miss_unseen_answered: float | None = None


def topics(by_intent: dict[str, list[str]], seed: int = 0) -> list[list[str]]:
    """Intents grouped into about ``len / TOPIC_SIZE`` topics, each topic's intents sorted, the
    topics in the order of their first intent."""
    from sklearn.cluster import KMeans

    intents = sorted(by_intent)
    k = max(1, round(len(intents) / TOPIC_SIZE))
    if k == 1:
        return [intents]
    samples = [by_intent[i][:CENTROID_QUESTIONS] for i in intents]
    if minilm_available():
        encoder = shared_minilm()
        vectors = np.stack([encoder.encode(s).mean(axis=0) for s in samples])
    else:
        tfidf = NgramTfidf.fit(t for s in samples for t in s)
        vectors = np.stack([np.asarray(tfidf.transform(s).mean(axis=0)).ravel() for s in samples])
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels = KMeans(k, n_init=10, random_state=seed).fit_predict(vectors)
    grouped: dict[int, list[str]] = defaultdict(list)
    for intent, label in zip(intents, labels, strict=True):
        grouped[int(label)].append(intent)
    return sorted(grouped.values())


def evaluate_small_kbs(
    path: str | Path,
    *,
    draws: int = 40,
    phrasings: int = 8,
    target_wrong_rate: float = 0.05,
    mix: Mix = Mix(),
    seed: int = 0,
    encoder: str | None = None,
    not_covered: int = 0,
) -> dict[str, Any]:
    """See the module docstring. Raises :class:`datasets.DatasetError` for a dataset that
    cannot make a knowledge base with near-miss questions (fewer than 3 intents in a topic)."""
    rows = datasets.load(path)
    train: dict[str, list[str]] = defaultdict(list)
    test: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.split == "train" and row.label != OOS_LABEL:
            train[row.label].append(row.text)
        elif row.split == "test":
            test[row.label].append(row.text)
    usable = {i: texts for i, texts in train.items() if len(texts) >= 2 and test.get(i)}
    groups = [g for g in topics(usable, seed) if len(g) >= 3]
    if not groups:
        raise datasets.DatasetError(
            f"{path}: needs topics of at least 3 intents with train and test questions "
            f"({len(usable)} usable intents)"
        )
    results = [
        _draw(d, groups, train, test, phrasings, target_wrong_rate, mix, seed, encoder, not_covered)
        for d in range(draws)
    ]
    realized = np.array([r.realized for r in results])
    coverage = np.array([r.coverage for r in results])
    return {
        "dataset": str(path),
        "draws": draws,
        "phrasings": phrasings,
        "target_wrong_rate": target_wrong_rate,
        "assumed_off_topic_share": ASSUMED_OFF_TOPIC_SHARE,
        "mix": asdict(mix),
        "topics": len(groups),
        "intents_in_topics": sum(map(len, groups)),
        "realized_median": round(float(np.median(realized)), 4),
        "realized_mean": round(float(realized.mean()), 4),
        "draws_over_target": int((realized > target_wrong_rate + 1e-9).sum()),
        "coverage_median": round(float(np.median(coverage)), 4),
        "coverage_mean": round(float(coverage.mean()), 4),
        "near_miss_answered_mean": round(float(np.mean([r.near_miss_answered for r in results])), 4),
        "far_answered_mean": round(float(np.mean([r.far_answered for r in results])), 4),
        "thin_draws": sum(r.thin for r in results),
        "not_covered": not_covered,
        **_marked_summary(results),
        "per_draw": [asdict(r) for r in results],
    }


def _marked_summary(results: list[Draw]) -> dict[str, Any]:
    shown = [r.near_miss_shown_answered for r in results if r.near_miss_shown_answered is not None]
    unseen = [r.near_miss_unseen_answered for r in results if r.near_miss_unseen_answered is not None]
    return {
        "near_miss_shown_answered_mean": round(float(np.mean(shown)), 4) if shown else None,
        "near_miss_unseen_answered_mean": round(float(np.mean(unseen)), 4) if unseen else None,
    }


def _draw(
    d: int,
    groups: list[list[str]],
    train: dict[str, list[str]],
    test: dict[str, list[str]],
    phrasings: int,
    target: float,
    mix: Mix,
    seed: int,
    encoder: str | None,
    not_covered: int = 0,
) -> Draw:
    rng = np.random.default_rng([seed, d])
    topic = d % len(groups)
    members = list(groups[topic])
    rng.shuffle(members)
    n_kb = min(len(members) - 1, max(2, round(len(members) * KB_SHARE)))
    kb, near = sorted(members[:n_kb]), sorted(members[n_kb:])
    examples = [
        (str(t), intent)
        for intent in kb
        for t in rng.choice(train[intent], min(phrasings, len(train[intent])), replace=False)
    ]
    # The same halves with and without marked questions, so that runs compare half by half.
    shown, unseen = near[: (len(near) + 1) // 2], near[(len(near) + 1) // 2 :]
    # A generator of its own: the draw's other samples stay those of a run without the marked.
    marking = np.random.default_rng([seed, d, 1])
    marked = [
        str(t)
        for intent in (shown if not_covered else [])
        for t in marking.choice(train[intent], min(not_covered, len(train[intent])), replace=False)
    ]
    started = time.perf_counter()
    matcher = FaqMatcher.train(
        examples,
        encoder=encoder,
        oos_examples=marked,
        target_wrong_rate=target,
        oos_share=ASSUMED_OFF_TOPIC_SHARE,
        calibrate_on_oos=False,  # as the knowledge app trains its list
    )
    fit_seconds = round(time.perf_counter() - started, 2)
    covered = [(t, intent) for intent in kb for t in test[intent]]
    near_texts = [t for intent in near for t in test[intent]]
    elsewhere = sorted(t for label, texts in test.items() if label not in members for t in texts)
    far = [str(t) for t in rng.choice(elsewhere, min(FAR_QUESTIONS, len(elsewhere)), replace=False)]
    said = _answers(matcher, [t for t, _ in covered])
    right = sum(a == intent for a, (_, intent) in zip(said, covered, strict=True)) / len(covered)
    wrong = sum(a is not None and a != intent for a, (_, intent) in zip(said, covered, strict=True)) / len(
        covered
    )
    # Matched once; the first half's questions come first (``near`` is sorted, ``shown`` its head).
    near_said = [a is not None for a in _answers(matcher, near_texts)]
    n_shown = sum(len(test[i]) for i in shown)
    near_rate = _share(near_said)
    far_rate = _answered_share(matcher, far)
    answered = mix.covered * (right + wrong) + mix.near_miss * near_rate + mix.far * far_rate
    wrong_answers = mix.covered * wrong + mix.near_miss * near_rate + mix.far * far_rate
    return Draw(
        topic=topic,
        answers=len(kb),
        near_miss_intents=len(near),
        threshold=round(matcher.threshold, 4),
        thin=bool(matcher.calibration.get("thin", False)),
        coverage=round(right, 4),
        wrong_covered=round(wrong, 4),
        near_miss_answered=round(near_rate, 4),
        far_answered=round(far_rate, 4),
        realized=round(wrong_answers / answered, 4) if answered else 0.0,
        fit_seconds=fit_seconds,
        near_miss_shown_answered=round(_share(near_said[:n_shown]), 4),
        near_miss_unseen_answered=round(_share(near_said[n_shown:]), 4) if unseen else None,
    )


def _answers(matcher: FaqMatcher, texts: Sequence[str]) -> list[str | None]:
    """What the matcher answers (None: hands off), as :meth:`FaqMatcher.match` decides."""
    return [m.answer_id for m in matcher.match_batch(texts)] if texts else []


def _answered_share(matcher: FaqMatcher, texts: Sequence[str]) -> float:
    return _share([a is not None for a in _answers(matcher, texts)])


def _share(answered: Sequence[bool]) -> float:
    return sum(answered) / len(answered) if answered else 0.0
