"""Reading and writing contact CSV files: parsing, per-line validation, the report, export.

Nothing here writes to the database itself: ``services.import_contacts_csv`` hands in the
function that writes one row, inside its transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from heedful.crm.models import Contact, Tag
from heedful.csv_files import sniff_delimiter, workbook_instead_of_csv
from heedful.storable import storable

MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
MAX_ATTRIBUTE_VALUE = 1000
MAX_ATTRIBUTE_NAME = 100

# Columns that map to contact fields; any other column becomes a custom attribute.
CONTACT_COLUMNS = ("first_name", "last_name", "phone", "postcode")
KNOWN_COLUMNS = ("email", "first_name", "last_name", "phone", "company", "postcode", "tags")
TAG_SEPARATOR = ";"

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RowError:
    line: int  # as a spreadsheet numbers it: the header is line 1
    column: str  # "" when the whole line is wrong
    message: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rows: int = 0  # data rows read, header excluded
    errors: list[RowError] = field(default_factory=list)
    # A problem with the whole file (encoding, header, size); no row was read or written.
    file_error: str = ""
    # True when nothing was written: a file error, or a bad row under all-or-nothing.
    rejected: bool = False

    @property
    def bad_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})

    @property
    def summary(self) -> str:
        if self.file_error:
            return _("Import rejected: %s") % self.file_error
        if self.rejected:
            return _("Import rejected: %(bad)d of %(rows)d rows have errors; nothing was imported.") % {
                "bad": len(self.bad_lines),
                "rows": self.rows,
            }
        return _("%(created)d created, %(updated)d updated, %(bad)d rows skipped.") % {
            "created": self.created,
            "updated": self.updated,
            "bad": len(self.bad_lines),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "rows": self.rows,
            "rejected": self.rejected,
            "file_error": self.file_error,
            "summary": self.summary,
            "errors": [{"line": e.line, "column": e.column, "message": e.message} for e in self.errors],
        }


@dataclass
class ParsedRow:
    line: int
    email: str
    fields: dict[str, str]  # only the non-empty cells: an empty cell never blanks a value
    company: str
    tags: list[str]
    attributes: dict[str, str]


class FileRejected(Exception):
    pass


def _read_text(file: Any) -> str:
    raw = file.read(MAX_IMPORT_BYTES + 1) if hasattr(file, "read") else file
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > MAX_IMPORT_BYTES:
        raise FileRejected(_("The file is larger than 10 MB. Split it into smaller files."))
    # storable: NUL characters are dropped (PostgreSQL refuses them; the import failed with a 500).
    if isinstance(raw, str):
        return storable(raw.removeprefix("\ufeff"))
    workbook = workbook_instead_of_csv(bytes(raw[:8]))
    if workbook:
        raise FileRejected(workbook)
    try:
        return storable(bytes(raw).decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        # Guessing Latin-1 would import "MÃ¼ller" for "Müller" without a word; say so instead.
        line = raw[: exc.start].count(b"\n") + 1
        raise FileRejected(
            _(
                "The file is not UTF-8 text (line %(line)d has the byte 0x%(byte)02X, typical of "
                "Windows or Latin-1 files). Save it as “CSV UTF-8” and upload it again."
            )
            % {"line": line, "byte": raw[exc.start]}
        ) from None


def _max_length(model: type[Contact] | type[Tag], name: str) -> int:
    return int(getattr(model._meta.get_field(name), "max_length", 0) or 0)


def _unescape(value: str) -> str:
    """Undo our own export's formula guard, so an export imports back unchanged."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        delimiter = sniff_delimiter(text, required="email")
        self.reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        self.errors: list[RowError] = []
        self.rows: list[ParsedRow] = []
        self.count = 0
        self._seen: dict[str, int] = {}

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """Non-blank records with the line each starts on (a quoted cell may span lines)."""
        line = 1
        try:
            for record in self.reader:
                if any(cell.strip() for cell in record):
                    yield line, record
                line = self.reader.line_num + 1
        except csv.Error as exc:
            raise FileRejected(
                _("Line %(line)d cannot be read as CSV: %(error)s") % {"line": line, "error": exc}
            ) from None

    def parse(self) -> None:
        records = self._records()
        first = next(records, None)
        if first is None:
            raise FileRejected(_("The file is empty."))
        self.header = self._header(first[1])
        for line, record in records:
            self.count += 1
            if self.count > MAX_IMPORT_ROWS:
                raise FileRejected(
                    _("The file has more than %(max)d rows. Split it into smaller files.")
                    % {"max": MAX_IMPORT_ROWS}
                )
            self._row(line, record)
        if self.count == 0:
            raise FileRejected(_("The file has a header but no rows below it."))

    def _header(self, cells: list[str]) -> list[str]:
        names = [c.strip() for c in cells]
        lowered = [n.lower() if n.lower() in KNOWN_COLUMNS else n for n in names]
        if "email" not in lowered:
            raise FileRejected(
                _("The first line must be a header naming the columns, one of them “email”. Found: %s")
                % ", ".join(names)[:200]
            )
        doubled = sorted({n for n in lowered if n and lowered.count(n) > 1})
        if doubled:
            raise FileRejected(_("The header names these columns twice: %s") % ", ".join(doubled))
        long_names = [n for n in lowered if len(n) > MAX_ATTRIBUTE_NAME]
        if long_names:
            raise FileRejected(_("A column name is longer than %d characters.") % MAX_ATTRIBUTE_NAME)
        return lowered

    def _row(self, line: int, record: list[str]) -> None:
        extra = record[len(self.header) :]
        if any(c.strip() for c in extra):
            self._error(
                line,
                "",
                _("This line has %(n)d cells; the header has %(m)d.")
                % {
                    "n": len(record),
                    "m": len(self.header),
                },
            )
            return
        cells = {
            name: _unescape(value.strip())
            for name, value in zip(self.header, record, strict=False)
            if name  # a column without a name (a trailing comma) carries nothing
        }
        before = len(self.errors)
        email = self._email(line, cells.get("email", ""))
        fields = {c: cells[c] for c in CONTACT_COLUMNS if cells.get(c)}
        for name, value in fields.items():
            self._check_length(line, name, value, _max_length(Contact, name))
        company = cells.get("company", "")
        self._check_length(line, "company", company, 200)
        tags = [t.strip() for t in cells.get("tags", "").split(TAG_SEPARATOR) if t.strip()]
        for tag in tags:
            self._check_length(line, "tags", tag, _max_length(Tag, "name"))
        attributes = {k: v for k, v in cells.items() if k not in KNOWN_COLUMNS and v}
        for name, value in attributes.items():
            self._check_length(line, name, value, MAX_ATTRIBUTE_VALUE)
        if len(self.errors) == before:
            self.rows.append(ParsedRow(line, email, fields, company, tags, attributes))

    def _email(self, line: int, value: str) -> str:
        email = value.strip().lower()
        if not email:
            self._error(line, "email", _("The email is missing; rows are matched to contacts by email."))
            return ""
        try:
            validate_email(email)
        except ValidationError:
            self._error(line, "email", _("“%s” is not a valid email address.") % value[:100])
            return ""
        if email in self._seen:
            self._error(
                line,
                "email",
                _("%(email)s is also on line %(first)d; each contact may appear once.")
                % {"email": email, "first": self._seen[email]},
            )
            return ""
        self._seen[email] = line
        return email

    def _check_length(self, line: int, column: str, value: str, max_length: int) -> None:
        if len(value) > max_length:
            self._error(
                line,
                column,
                _("At most %(max)d characters (this has %(len)d).") % {"max": max_length, "len": len(value)},
            )

    def _error(self, line: int, column: str, message: str) -> None:
        self.errors.append(RowError(line, column, message))


def run_import(
    file: Any,
    *,
    all_or_nothing: bool,
    write_rows: Callable[[list[ParsedRow]], tuple[int, int]],
) -> ImportReport:
    """Parse and check the whole file, then hand the good rows to ``write_rows`` in one go.

    ``write_rows`` returns (created, updated).
    """
    report = ImportReport()
    try:
        parser = _Parser(_read_text(file))
        parser.parse()
    except FileRejected as exc:
        report.file_error = str(exc)
        report.rejected = True
        return report
    report.rows = parser.count
    report.errors = parser.errors
    if report.errors and all_or_nothing:
        report.rejected = True
        return report
    report.created, report.updated = write_rows(parser.rows)
    return report


# --- Export -------------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """``"=HYPERLINK(…)"`` → ``"'=HYPERLINK(…)"``: a spreadsheet shows it as text, never runs it.

    Phone numbers like "+49 30 …" get the quote too; the import strips it again.
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return neutralise(text)


class _Line:
    """A file-like object whose write() hands back the line, so csv.writer can stream."""

    def write(self, value: str) -> str:
        return value


def export_contacts_csv(queryset: QuerySet[Contact]) -> Iterator[str]:
    """The contacts as CSV lines (header first), in the columns the import reads.

    Streams: contacts are read in chunks. Every cell is neutralised against formula injection.
    """
    keys = sorted({k for attrs in queryset.values_list("attributes", flat=True) for k in (attrs or {})})
    writer = csv.writer(_Line())
    yield writer.writerow([*KNOWN_COLUMNS, *[neutralise(k) for k in keys]])
    contacts: Iterable[Contact] = (
        queryset.select_related("company").prefetch_related("tags").iterator(chunk_size=500)
    )
    for contact in contacts:
        row = [
            contact.email,
            contact.first_name,
            contact.last_name,
            contact.phone,
            contact.company.name if contact.company else "",
            contact.postcode,
            TAG_SEPARATOR.join(sorted(t.name for t in contact.tags.all())),
            *[contact.attributes.get(k) for k in keys],
        ]
        yield writer.writerow([_cell(v) for v in row])
