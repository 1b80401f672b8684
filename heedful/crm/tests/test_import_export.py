from __future__ import annotations

import io

import pytest

from heedful.crm import services
from heedful.crm.importing import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, RowError
from heedful.crm.models import Contact, Tag, TimelineEntry
from heedful.crm.tests.factories import ContactFactory
from heedful.governance.models import AuditEvent

pytestmark = pytest.mark.django_db

GOOD = (
    "email,first_name,last_name,phone,company,postcode,tags,newsletter\n"
    "ana@example.com,Ana,Lopez,+49 30 1234,ACME,10115,vip;berlin,yes\n"
    "BEN@example.com,Ben,Okafor,,,,,\n"
)


def _import(text: str | bytes, user, all_or_nothing: bool = True):  # type: ignore[no-untyped-def]
    data = text.encode("utf-8") if isinstance(text, str) else text
    return services.import_contacts_csv(file=io.BytesIO(data), user=user, all_or_nothing=all_or_nothing)


def _contacts() -> list[tuple[str, str, str]]:
    return list(Contact.objects.order_by("email").values_list("email", "first_name", "last_name"))


def test_a_good_file_creates_contacts_with_company_tags_attributes_and_timeline(manager):
    report = _import(GOOD, manager)

    assert (report.created, report.updated, report.rows, report.errors, report.rejected) == (
        2,
        0,
        2,
        [],
        False,
    )
    ana = Contact.objects.get(email="ana@example.com")
    assert (ana.phone, ana.company_name, ana.postcode, ana.source) == ("+49 30 1234", "ACME", "10115", "csv")
    assert ana.attributes == {"newsletter": "yes"}
    assert sorted(ana.tags.values_list("name", flat=True)) == ["berlin", "vip"]
    assert Contact.objects.get(email="ben@example.com").attributes == {}
    entry = TimelineEntry.objects.get(contact=ana)
    assert (entry.title, entry.data, entry.actor_user) == ("Imported from CSV", {"line": 2}, manager)
    event = AuditEvent.objects.get(action="contact.import")
    assert event.changes == {"created": 2, "updated": 0, "rejected_rows": 0, "all_or_nothing": True}
    assert event.summary == "2 created, 0 updated, 0 rows skipped."


def test_a_known_email_updates_the_contact_and_empty_cells_keep_what_is_stored(manager):
    ContactFactory(
        email="ana@example.com", first_name="Ana", last_name="Old", phone="555", attributes={"a": "1"}
    )

    report = _import("email,last_name,phone,b\nANA@example.com,Lopez,,2\n", manager)

    assert (report.created, report.updated) == (0, 1)
    ana = Contact.objects.get()
    assert (ana.first_name, ana.last_name, ana.phone, ana.attributes) == (
        "Ana",
        "Lopez",
        "555",
        {"a": "1", "b": "2"},
    )
    assert TimelineEntry.objects.get().title == "Updated from CSV"


BAD = (
    "email,first_name,tags\n"
    "good@example.com,Good,\n"
    "not-an-email,Bad,\n"
    "\n"
    "good@example.com,Twice,\n"
    "long@example.com," + "x" * 101 + ",\n"
    "tag@example.com,T," + "t" * 51 + "\n"
    ",NoEmail,\n"
    "extra@example.com,E,,surplus\n"
)
BAD_ERRORS = [
    RowError(3, "email", "“not-an-email” is not a valid email address."),
    RowError(5, "email", "good@example.com is also on line 2; each contact may appear once."),
    RowError(6, "first_name", "At most 100 characters (this has 101)."),
    RowError(7, "tags", "At most 50 characters (this has 51)."),
    RowError(8, "email", "The email is missing; rows are matched to contacts by email."),
    RowError(9, "", "This line has 4 cells; the header has 3."),
]


def test_all_or_nothing_rejects_a_file_with_bad_rows_and_writes_nothing(manager):
    report = _import(BAD, manager, all_or_nothing=True)

    assert report.errors == BAD_ERRORS
    assert (report.created, report.updated, report.rows, report.rejected) == (0, 0, 7, True)
    assert report.summary == "Import rejected: 6 of 7 rows have errors; nothing was imported."
    assert not Contact.objects.exists()
    assert not Tag.objects.exists()
    assert not TimelineEntry.objects.exists()
    assert AuditEvent.objects.get().changes["rejected_rows"] == 6


def test_good_rows_only_imports_the_good_rows_and_reports_the_bad_ones_exactly(manager):
    report = _import(BAD, manager, all_or_nothing=False)

    assert report.errors == BAD_ERRORS
    assert (report.created, report.updated, report.rejected) == (1, 0, False)
    assert _contacts() == [("good@example.com", "Good", "")]
    assert report.summary == "1 created, 0 updated, 6 rows skipped."


def test_a_quoted_cell_over_two_lines_keeps_later_line_numbers_true(manager):
    report = _import('email,first_name\na@example.com,"Two\nlines"\nbad,X\n', manager, all_or_nothing=False)

    assert report.errors == [RowError(4, "email", "“bad” is not a valid email address.")]
    assert _contacts() == [("a@example.com", "Two\nlines", "")]


def test_a_latin1_file_is_rejected_with_the_line_of_the_first_bad_byte(manager):
    report = _import("email,last_name\na@example.com,Müller\n".encode("latin-1"), manager)

    assert report.rejected is True
    assert report.file_error == (
        "The file is not UTF-8 text (line 2 has the byte 0xFC, typical of Windows or Latin-1 files). "
        "Save it as “CSV UTF-8” and upload it again."
    )
    assert not Contact.objects.exists()


def test_a_utf8_file_with_a_byte_order_mark_reads_the_first_header_right(manager):
    report = _import("\ufeffemail,last_name\na@example.com,Müller\n".encode(), manager)

    assert report.created == 1
    assert _contacts() == [("a@example.com", "", "Müller")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "The file is empty."),
        ("\n\n", "The file is empty."),
        ("email,first_name\n", "The file has a header but no rows below it."),
        (
            "a@example.com,Ana\n",
            "The first line must be a header naming the columns, one of them “email”. "
            "Found: a@example.com, Ana",
        ),
        (
            "e-mail;first_name\na@example.com;Ana\n",
            "The first line must be a header naming the columns, one of them “email”. "
            "Found: e-mail;first_name",
        ),
        ("email,Email,x\n", "The header names these columns twice: email"),
    ],
)
def test_a_file_without_usable_rows_is_rejected_with_a_clear_message(manager, content, message):
    report = _import(content, manager)

    assert (report.rejected, report.file_error, report.rows) == (True, message, 0)
    assert not Contact.objects.exists()


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_spreadsheet_s_semicolons_or_tabs_separate_columns_like_commas(manager, delimiter):
    # German Excel saves "CSV UTF-8" with semicolons; a tag list in a cell is then quoted.
    text = (
        f"Email{delimiter}first_name{delimiter}tags{delimiter}note\n"
        f'ana@example.com{delimiter}Ana{delimiter}"vip;berlin"{delimiter}"Müller, Hof 2"\n'
    )

    report = _import(text, manager)

    assert (report.created, report.errors, report.rejected) == (1, [], False)
    ana = Contact.objects.get()
    assert (ana.email, ana.first_name, ana.attributes) == (
        "ana@example.com",
        "Ana",
        {"note": "Müller, Hof 2"},
    )
    assert sorted(ana.tags.values_list("name", flat=True)) == ["berlin", "vip"]


@pytest.mark.parametrize("magic", [b"PK\x03\x04", b"\xd0\xcf\x11\xe0"])
def test_a_workbook_uploaded_instead_of_a_csv_is_named_as_such(manager, magic):
    report = _import(magic + bytes(range(256)) * 4, manager)

    assert report.file_error == (
        "This is a spreadsheet workbook (.xlsx, .xls or .ods), not a CSV file. Open it in your "
        "spreadsheet program, save it as “CSV UTF-8” and upload that file."
    )
    assert not Contact.objects.exists()


def test_a_file_with_too_many_rows_is_rejected_before_anything_is_written(manager):
    rows = "".join(f"c{i}@example.com\n" for i in range(MAX_IMPORT_ROWS + 1))

    report = _import("email\n" + rows, manager, all_or_nothing=False)

    assert report.file_error == "The file has more than 50000 rows. Split it into smaller files."
    assert not Contact.objects.exists()


def test_a_file_over_ten_megabytes_is_rejected(manager):
    report = _import("email\n" + "a" * MAX_IMPORT_BYTES, manager, all_or_nothing=False)

    assert report.file_error == "The file is larger than 10 MB. Split it into smaller files."
    assert not Contact.objects.exists()


def test_a_text_stream_imports_like_bytes(manager):
    report = services.import_contacts_csv(file=io.StringIO(GOOD), user=manager, all_or_nothing=True)

    assert report.created == 2


def test_export_neutralises_formula_cells_and_the_import_reads_them_back(manager):
    ContactFactory(
        email="evil@example.com",
        first_name='=HYPERLINK("http://x")',
        last_name="@SUM(A1)",
        phone="+49 30 1",
        attributes={"note": "-1+1", "vip": True},
        tags=["b", "a"],
    )

    lines = list(services.export_contacts_csv(Contact.objects.all()))

    assert lines == [
        "email,first_name,last_name,phone,company,postcode,tags,note,vip\r\n",
        'evil@example.com,"\'=HYPERLINK(""http://x"")",\'@SUM(A1),\'+49 30 1,,,a;b,\'-1+1,true\r\n',
    ]
    Contact.objects.all().delete()
    report = _import("".join(lines), manager)
    assert report.created == 1
    again = Contact.objects.get()
    assert (again.first_name, again.last_name, again.phone) == (
        '=HYPERLINK("http://x")',
        "@SUM(A1)",
        "+49 30 1",
    )
    assert again.attributes == {"note": "-1+1", "vip": "true"}


def test_importing_the_same_file_twice_updates_without_duplicating_tags_or_companies(manager):
    _import(GOOD, manager)

    report = _import(GOOD.replace("ACME", "acme"), manager)

    assert (report.created, report.updated, report.errors) == (0, 2, [])
    ana = Contact.objects.get(email="ana@example.com")
    assert sorted(ana.tags.values_list("name", flat=True)) == ["berlin", "vip"]
    assert (ana.company_name, Contact.objects.count(), Tag.objects.count()) == ("ACME", 2, 2)
    assert list(TimelineEntry.objects.filter(contact=ana).order_by("id").values_list("title", flat=True)) == [
        "Imported from CSV",
        "Updated from CSV",
    ]


def test_nul_characters_in_a_csv_are_dropped_and_the_rows_imported(manager):
    # PostgreSQL refuses NUL in text: the import was a 500 there (found by probing the API).
    report = _import(b"email,first_name\nnul@example.com,Ro\x00sa\n", manager)
    assert (report.created, report.errors) == (1, [])
    assert Contact.objects.get(email="nul@example.com").first_name == "Rosa"
