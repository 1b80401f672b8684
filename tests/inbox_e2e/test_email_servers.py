"""Email in and out against real servers: dovecot over IMAP, aiosmtpd over SMTP."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes

import pytest
from django.utils import timezone

from heedful.governance.models import AuditEvent
from heedful.inbox import mail_in, mail_out, services
from heedful.inbox.models import Author, Conversation, Delivery, MailboxState, Message
from heedful.inbox.tasks import send_email_task
from heedful.inbox.tests import broken_emails

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    settings.HEEDFUL_SUPPORT_EMAIL = "help@shop.example"
    settings.HEEDFUL_INBOX_MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


def plain(sender: str, subject: str, message_id: str, body: str, extra: str = "") -> bytes:
    return (
        f"From: {sender}\r\nTo: shop@example.com\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def test_polling_stores_new_mail_once_and_never_again(dovecot, no_engine):
    dovecot.append(plain("Anna <anna@example.com>", "Tea", "<t1@example.com>", "Hello"))
    dovecot.append(plain("ben@example.com", "Cups", "<t2@example.com>", "Hi"))

    first = mail_in.poll_mailbox(**dovecot.settings())
    second = mail_in.poll_mailbox(**dovecot.settings())

    assert (first.stored, first.failed) == (2, [])
    assert (second.stored, second.skipped) == (0, 0)
    assert sorted(Message.objects.filter(author_kind=Author.CUSTOMER).values_list("body", flat=True)) == [
        "Hello",
        "Hi",
    ]
    assert MailboxState.objects.get().last_uid == 2


def test_forgetting_the_uid_position_still_never_duplicates(dovecot, no_engine):
    dovecot.append(plain("anna@example.com", "Tea", "<t1@example.com>", "Hello"))
    mail_in.poll_mailbox(**dovecot.settings())
    MailboxState.objects.update(last_uid=0, uidvalidity=0)  # as after a UIDVALIDITY change

    again = mail_in.poll_mailbox(**dovecot.settings())

    assert again.stored == 0
    assert Message.objects.filter(author_kind=Author.CUSTOMER).count() == 1


def test_the_broken_email_corpus_arrives_complete_over_imap(dovecot, no_engine):
    for make in broken_emails.CORPUS.values():
        dovecot.append(make())
    dovecot.append(plain("last@example.com", "after the broken ones", "<last@example.com>", "Still here"))

    result = mail_in.poll_mailbox(**dovecot.settings())

    assert (result.stored, result.failed) == (len(broken_emails.CORPUS) + 1, [])
    assert Message.objects.filter(author_kind=Author.CUSTOMER).count() == len(broken_emails.CORPUS) + 1
    assert Message.objects.filter(body="Still here").exists()


def test_one_message_that_fails_to_process_does_not_block_the_rest(dovecot, no_engine, monkeypatch):
    real = mail_in.ingest_email

    def fails_for_one(raw, *, source_key=None):  # type: ignore[no-untyped-def]
        if b"<poison@example.com>" in raw:
            raise RuntimeError("a bug in processing")
        return real(raw, source_key=source_key)

    monkeypatch.setattr(mail_in, "ingest_email", fails_for_one)
    dovecot.append(plain("a@example.com", "one", "<one@example.com>", "one"))
    dovecot.append(plain("b@example.com", "poison", "<poison@example.com>", "poison"))
    dovecot.append(plain("c@example.com", "three", "<three@example.com>", "three"))

    result = mail_in.poll_mailbox(**dovecot.settings())

    assert (result.stored, result.failed) == (3, [])
    poison = Message.objects.get(conversation__subject="(unreadable email)", author_kind=Author.CUSTOMER)
    assert poison.parse_problems == ["processing failed: RuntimeError('a bug in processing')"]
    assert poison.raw_file != ""
    assert (
        sorted(Message.objects.filter(author_kind=Author.CUSTOMER).values_list("body", flat=True))[-1]
        == "three"
    )


def test_a_reply_goes_out_by_smtp_threaded_under_the_customers_email(dovecot, smtp_server, no_engine, agent):
    dovecot.append(plain("Anna <anna@example.com>", "Late tea", "<q1@example.com>", "Where is it?"))
    mail_in.poll_mailbox(**dovecot.settings())
    conversation = Conversation.objects.get()

    reply = services.reply_as_agent(conversation=conversation, user=agent, body="It left today.")
    states = [send_email_task(pk) for pk in mail_out.due_message_ids()]

    assert states == [Delivery.SENT, Delivery.SENT]  # the bot's honest hand-off notice, then Ana's reply
    assert len(smtp_server.received) == 2
    notice = message_from_bytes(smtp_server.received[0].original_content)
    assert notice.get_payload().startswith("I'm not sure enough to answer this correctly myself.")
    sent = message_from_bytes(smtp_server.received[-1].original_content)
    assert smtp_server.received[-1].rcpt_tos == ["anna@example.com"]
    assert sent["Subject"] == "Re: Late tea"
    assert sent["From"] == "help@shop.example"
    assert sent["Message-ID"] == reply.email_message_id
    assert sent["References"].split()[0] == "<q1@example.com>"
    assert sent.get_payload().strip() == "It left today."


def test_the_customers_answer_to_our_reply_threads_back_into_the_conversation(
    dovecot, smtp_server, no_engine, agent
):
    dovecot.append(plain("anna@example.com", "Late tea", "<q1@example.com>", "Where is it?"))
    mail_in.poll_mailbox(**dovecot.settings())
    conversation = Conversation.objects.get()
    reply = services.reply_as_agent(conversation=conversation, user=agent, body="It left today.")

    dovecot.append(
        plain(
            "anna@example.com",
            "Re: Late tea",
            "<q2@example.com>",
            "Thanks!",
            extra=(
                f"In-Reply-To: {reply.email_message_id}\r\n"
                f"References: <q1@example.com> {reply.email_message_id}\r\n"
            ),
        )
    )
    mail_in.poll_mailbox(**dovecot.settings())

    assert Conversation.objects.count() == 1
    assert list(conversation.messages.filter(author_kind=Author.CUSTOMER).values_list("body", flat=True)) == [
        "Where is it?",
        "Thanks!",
    ]


def test_a_temporary_smtp_failure_is_retried_and_never_lost(smtp_server, no_engine, agent):
    conversation = services.start_conversation(
        channel="email", customer_email="anna@example.com", subject="Tea"
    )
    reply = services.reply_as_agent(conversation=conversation, user=agent, body="Hello")
    smtp_server.refuse_next = 1

    first = send_email_task(reply.pk)
    reply.refresh_from_db()
    assert first == Delivery.PENDING
    assert reply.delivery_attempts == 1
    assert reply.delivery_error.startswith("SMTPDataError")
    assert reply.next_attempt_at > timezone.now()

    Message.objects.filter(pk=reply.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    second = send_email_task(reply.pk)

    assert second == Delivery.SENT
    assert len(smtp_server.received) == 1


def test_after_the_last_attempt_a_failure_stays_visible(settings, no_engine, agent):
    from tests.inbox_e2e.servers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", free_port(), False
    settings.HEEDFUL_EMAIL_MAX_ATTEMPTS = 2
    conversation = services.start_conversation(
        channel="email", customer_email="anna@example.com", subject="Tea"
    )
    reply = services.reply_as_agent(conversation=conversation, user=agent, body="Hello")

    states = []
    for _ in range(2):
        Message.objects.filter(pk=reply.pk).update(next_attempt_at=timezone.now())
        states.append(send_email_task(reply.pk))

    reply.refresh_from_db()
    assert states == [Delivery.PENDING, Delivery.FAILED]
    assert reply.delivery_error.startswith("ConnectionRefusedError")
    assert AuditEvent.objects.filter(action="inbox.email.failed").count() == 1


def test_sending_twice_sends_once(smtp_server, no_engine, agent):
    conversation = services.start_conversation(
        channel="email", customer_email="anna@example.com", subject="Tea"
    )
    reply = services.reply_as_agent(conversation=conversation, user=agent, body="Hello")

    assert [send_email_task(reply.pk), send_email_task(reply.pk)] == [Delivery.SENT, Delivery.SENT]
    assert len(smtp_server.received) == 1
