"""What the CSV imports (contacts, FAQ entries) share."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

# The first bytes of the files people upload instead of a CSV: the workbook itself.
_WORKBOOKS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def workbook_instead_of_csv(head: bytes) -> str | None:
    """What to say when ``head`` (a file's first bytes) is a spreadsheet workbook, not a CSV:
    decoding one as text only ever gave a puzzle about some byte on some line."""
    if head.startswith(_WORKBOOKS):
        return _(
            "This is a spreadsheet workbook (.xlsx, .xls or .ods), not a CSV file. Open it in "
            "your spreadsheet program, save it as “CSV UTF-8” and upload that file."
        )
    return None


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
