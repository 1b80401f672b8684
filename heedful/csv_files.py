"""What the CSV imports (contacts, FAQ entries) share."""

from __future__ import annotations

import csv
import io


def sniff_delimiter(text: str, *, required: str) -> str:
    """Comma, or the semicolon or tab that spreadsheets in much of Europe write instead (German
    Excel's "CSV UTF-8" separates with ";", and its users cannot easily change that): whichever
    splits the first non-blank line into a header with the ``required`` column. Comma when none
    does, so the header error names what was found."""
    first = next((line for line in io.StringIO(text) if line.strip()), "")
    for delimiter in (",", ";", "\t"):
        cells = next(csv.reader([first], delimiter=delimiter), [])
        if any(cell.strip().lower() == required for cell in cells):
            return delimiter
    return ","
