"""Email in: broken mail never crashes, nothing is lost, each message is visible; threading."""

from __future__ import annotations

import pytest

from heedful.inbox import mail_in
from heedful.inbox.models import Attachment, Conversation, Message
from heedful.inbox.tests import broken_emails

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path, no_engine):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    settings.HEEDFUL_INBOX_MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(broken_emails.CORPUS))
def test_each_broken_email_is_stored_and_visible(name):
    raw = broken_emails.CORPUS[name]()

    message = mail_in.ingest_email(raw, source_key=f"test/{name}")

    assert message is not None
    assert Message.objects.filter(direction="in").count() == 1
    assert message.conversation.channel == "email"


def test_nul_bytes_are_dropped_and_the_words_kept():
    message = mail_in.ingest_email(broken_emails.nul_bytes())
    assert message is not None
    assert message.body == "where is my order?"
    assert message.conversation.customer_name == "Nul"


def test_a_wrong_charset_is_read_as_the_likely_one_and_noted():
    message = mail_in.ingest_email(broken_emails.wrong_charset())

    assert message.body == "Grüße aus Köln, wo ist meine Bestellung?"
    assert message.parse_problems == ["text is not valid utf-8"]
    assert message.raw_file != ""


def test_a_missing_charset_falls_back_to_windows_1252():
    message = mail_in.ingest_email(broken_emails.missing_charset())

    assert message.body == "Ça coûte combien ?"


def test_missing_headers_are_noted_and_the_body_kept():
    message = mail_in.ingest_email(broken_emails.missing_headers())

    assert message.body == "Just a body, no headers at all."
    assert message.parse_problems == ["no Message-ID", "no sender address", "no date"]
    assert message.conversation.customer_email == ""


def test_an_invalid_date_is_noted_and_the_time_of_arrival_used():
    message = mail_in.ingest_email(broken_emails.invalid_date())

    assert message.email_date is None
    assert message.parse_problems == ["unreadable date 'Blursday, 45 Smarch 20266 99:99:99 +9999'"]


def test_an_attachment_over_the_limit_is_listed_but_not_stored():
    message = mail_in.ingest_email(broken_emails.huge_attachment())

    attachment = Attachment.objects.get(message=message)
    assert (attachment.filename, attachment.size, attachment.too_large, attachment.stored_path) == (
        "scan.bin",
        broken_emails.BIG,
        True,
        "",
    )
    assert message.body == "See the attached scan."


def test_deep_nesting_reaches_the_text_at_the_bottom():
    message = mail_in.ingest_email(broken_emails.deeply_nested(60))

    assert message.body == "Hello from the bottom."


def test_html_becomes_safe_text():
    message = mail_in.ingest_email(broken_emails.html_only())

    assert message.body == "Hello there,\n\nwhere is my order?"


def test_the_same_email_twice_is_stored_once():
    raw = broken_emails.html_only()

    first = mail_in.ingest_email(raw, source_key="box/1/1")
    again_same_uid = mail_in.ingest_email(raw, source_key="box/1/1")
    again_other_uid = mail_in.ingest_email(raw, source_key="box/2/7")

    assert first is not None
    assert (again_same_uid, again_other_uid) == (None, None)
    assert Message.objects.filter(direction="in").count() == 1


def test_a_reply_is_threaded_into_its_conversation_by_in_reply_to_and_references():
    first = mail_in.ingest_email(
        b"From: anna@example.com\r\nSubject: Tea\r\nMessage-ID: <a1@example.com>\r\n\r\nFirst question"
    )
    reply = mail_in.ingest_email(
        b"From: anna@example.com\r\nSubject: Re: Tea\r\nMessage-ID: <a2@example.com>\r\n"
        b"In-Reply-To: <unknown@example.com>\r\n"
        b"References: <a1@example.com> <unknown@example.com>\r\n\r\nMore"
    )

    assert reply.conversation_id == first.conversation_id
    assert Conversation.objects.count() == 1
