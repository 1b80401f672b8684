"""Text as every database heedful runs on can store it.

PostgreSQL refuses the NUL character and unpaired UTF-16 surrogates in text and jsonb columns;
SQLite keeps them. A customer's message carrying either (a badly encoded email, a chat message
with "\\ud800" in its JSON) failed on PostgreSQL only, and the message was lost.
"""

from __future__ import annotations

from typing import Any


def storable(text: str) -> str:
    """``text`` without NUL characters, its unpaired surrogates replaced by U+FFFD.

    >>> storable("a\\x00b \\ud83d\\ude00 \\ud800!")
    'ab 😀 \\ufffd!'
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16 with surrogatepass, a split pair joins up again; a lone half is replaced.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def unstorable_text(value: Any) -> str | None:
    """The first string in a JSON value (keys included) that :func:`storable` would change."""
    if isinstance(value, str):
        return value if storable(value) != value else None
    if isinstance(value, dict):
        items: list[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        found = unstorable_text(item)
        if found is not None:
            return found
    return None
