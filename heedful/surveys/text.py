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


def _engine(module_name: str, name: str) -> Any:
    try:
        module = importlib.import_module(f"heedful.ml.{module_name}")
    except ImportError as exc:
        raise LookupError(f"heedful.ml.{module_name} is not available ({exc})") from exc
    function = getattr(module, name, None)
    if function is None:
        raise LookupError(f"heedful.ml.{module_name} has no {name}()")
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
        analyse_sentiment = _engine("sentiment", "analyse_sentiment")
        find_themes = _engine("themes", "find_themes")
        sentiments = [(t, _label(analyse_sentiment(t))) for t in texts]
        # find_themes returns a model whose .themes carry a keyword label; it needs ≥ 2 texts.
        found = find_themes(list(texts)) if len(texts) >= 2 else None
        themes = list(dict.fromkeys(_theme(t) for t in getattr(found, "themes", found or [])))
    except Exception as exc:
        return CommentAnalysis(note=f"not analysed: {exc}")
    return CommentAnalysis(sentiments=sentiments, themes=themes)
