"""The only door from surveys to the text engine (``heedful.ml``).

Imported lazily and defensively: the engine is optional at run time and still growing, so
when a function is missing or fails, results say plainly "not analysed: <reason>" instead of
breaking the page or guessing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CommentAnalysis:
    sentiments: list[tuple[str, str]] = field(default_factory=list)  # (comment, label)
    themes: list[str] = field(default_factory=list)
    note: str = ""  # "" when analysed, else "not analysed: <reason>"


def _engine(name: str) -> Any:
    module = importlib.import_module("heedful.ml")
    function = getattr(module, name, None)
    if function is None:
        raise LookupError(f"heedful.ml has no {name}() yet")
    return function


def _label(result: Any) -> str:
    for attr in ("label", "sentiment"):
        if hasattr(result, attr):
            return str(getattr(result, attr))
    if isinstance(result, dict):
        return str(result.get("label") or result.get("sentiment") or result)
    return str(result)


def _theme(theme: Any) -> str:
    for attr in ("label", "name", "title"):
        if hasattr(theme, attr):
            return str(getattr(theme, attr))
    if isinstance(theme, dict):
        return str(theme.get("label") or theme.get("name") or theme)
    return str(theme)


def analyse_comments(texts: Sequence[str]) -> CommentAnalysis:
    """Sentiment per comment and the recurring themes. Call only for groups already shown (≥ k)."""
    if not texts:
        return CommentAnalysis()
    try:
        analyse_sentiment, find_themes = _engine("analyse_sentiment"), _engine("find_themes")
        sentiments = [(t, _label(analyse_sentiment(t))) for t in texts]
        themes = [_theme(t) for t in find_themes(list(texts))]
    except Exception as exc:
        return CommentAnalysis(note=f"not analysed: {exc}")
    return CommentAnalysis(sentiments=sentiments, themes=themes)
