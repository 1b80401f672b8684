"""Fixtures shared by the knowledge and inbox tests (imported by their conftest files)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from heedful.knowledge import matching
from heedful.knowledge.tests.fake_engine import FakeFaqMatcher


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeFaqMatcher]]:
    """The text engine replaced by a word-overlap matcher with a threshold of 0.6."""
    monkeypatch.setattr(matching, "_engine", lambda: FakeFaqMatcher)
    matching.forget_trained()
    yield FakeFaqMatcher
    matching.forget_trained()


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(matching, "_engine", lambda: None)
    matching.forget_trained()
    yield
    matching.forget_trained()


# Another process training the matcher (the worker after an edit): it holds the training lock
# until a line arrives on its standard input, then puts its file in place and lets go.
_OTHER_TRAINER = """
import fcntl, os, sys
lock, finished, target = sys.argv[1:]
with open(lock, "a+b") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.readline()
    if finished:
        os.replace(finished, target)
"""


@contextlib.contextmanager
def training_elsewhere(
    lock: Path, finished: Path | None = None, target: Path | None = None
) -> Iterator[Callable[[], None]]:
    """Another process holds the FAQ matcher's training lock from entry until the yielded
    ``finish()`` is called (or the block ends); it then moves ``finished`` to ``target``."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_TRAINER, str(lock), str(finished or ""), str(target or "")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout is not None
    assert other.stdin is not None
    stdin, finishing = other.stdin, threading.Lock()

    def finish() -> None:  # from a timer thread, or twice: once only
        with finishing:
            if not stdin.closed:
                stdin.write("done\n")
                stdin.close()

    try:
        assert other.stdout.readline().strip() == "locked"
        yield finish
    finally:
        finish()
        assert other.wait(timeout=30) == 0


@pytest.fixture
def shipping_entry(db: Any) -> Any:
    from heedful.knowledge.services import create_faq_entry

    return create_faq_entry(
        question="How long does shipping take?",
        variants=["When will my parcel arrive", "delivery time"],
        answer="We ship within 2 working days; delivery takes 1–3 days.",
        article_url="https://shop.example/help/shipping",
        automation="tests",
    )


@pytest.fixture
def returns_entry(db: Any) -> Any:
    from heedful.knowledge.services import create_faq_entry

    return create_faq_entry(
        question="How do I return an item?",
        variants=["return policy", "send something back"],
        answer="You can return anything within 30 days using the form in your account.",
        automation="tests",
    )


TOPICS = [
    "opening hours",
    "delivery",
    "returns",
    "gift cards",
    "parking",
    "allergens",
    "loyalty points",
    "invoices",
    "sizes",
    "repairs",
    "vouchers",
    "wholesale",
]


def create_topic_entries() -> None:
    """Twelve entries of five phrasings each: enough held-out questions for the matcher to
    calibrate its threshold (not a thin knowledge base)."""
    from heedful.knowledge.services import create_faq_entry

    for topic in TOPICS:
        create_faq_entry(
            question=f"What about {topic}?",
            variants=[
                f"tell me about {topic}",
                f"question on {topic}",
                f"help with {topic}",
                f"{topic} info",
            ],
            answer=f"All about {topic}.",
            automation="tests",
        )
