from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from heedful.surveys import text


def test_a_missing_engine_function_degrades_to_an_explicit_note(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(module_name: str, name: str) -> Any:
        raise LookupError(f"heedful.ml.{module_name} has no {name}()")

    monkeypatch.setattr(text, "_engine", missing)
    result = text.analyse_comments(["too much overtime", "great team"])
    assert result == text.CommentAnalysis(
        note="not analysed: heedful.ml.sentiment has no analyse_sentiment()"
    )


def test_the_engine_results_are_turned_into_labels_and_themes(monkeypatch: pytest.MonkeyPatch) -> None:
    engines = {
        "analyse_sentiment": lambda t: SimpleNamespace(label="negative" if "overtime" in t else "positive"),
        "find_themes": lambda texts: SimpleNamespace(themes=[SimpleNamespace(label="overtime / hours")]),
    }
    monkeypatch.setattr(text, "_engine", lambda module_name, name: engines[name])
    result = text.analyse_comments(["too much overtime", "great team"])
    assert result.sentiments == [("too much overtime", "negative"), ("great team", "positive")]
    assert result.themes == ["overtime / hours"]
    assert result.note == ""
