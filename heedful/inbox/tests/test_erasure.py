"""Erasing a contact erases what the inbox holds about them, and only that (promise 4).

Rosa's data is made the way it arrives in real life (an email with an attachment read by the
real parser, a chat in which she proves an order is hers, order updates, CSAT, an SLA breach,
webhook deliveries); Ben is another customer whose data must come through untouched.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage, get_connection
from django.test import Client
from django.utils import timezone

from heedful.crm import services as crm
from heedful.crm.models import Contact, Note, TimelineEntry
from heedful.governance.models import AuditEvent, DecisionRecord
from heedful.inbox import chat, csat, mail_in, services, sla
from heedful.inbox.models import (
    Attachment,
    Channel,
    ChatVisitor,
    Conversation,
    CsatRequest,
    Message,
    Order,
    OrderUpdate,
    SlaBreach,
    SlaNotice,
    Status,
    WebhookDelivery,
)
from heedful.inbox.queries import csat_results
from heedful.inbox.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

ROSA = "rosa.diaz@customer.test"
BEN = "ben@customer.test"

MODELS = {
    "contacts": Contact,
    "notes": Note,
    "timeline": TimelineEntry,
    "conversations": Conversation,
    "messages": Message,
    "attachments": Attachment,
    "chat_visitors": ChatVisitor,
    "sla_breaches": SlaBreach,
    "sla_notices": SlaNotice,
    "csat": CsatRequest,
    "orders": Order,
    "order_updates": OrderUpdate,
    "webhook_deliveries": WebhookDelivery,
}


def _rows() -> dict[str, int]:
    return {name: model.objects.count() for name, model in MODELS.items()}


def _email_with_attachment(sender: str, name: str, msgid: str) -> bytes:
    # A made-up charset: the parser keeps the original file, which must go with the erasure too.
    return (
        f"From: {name} <{sender}>\r\nTo: help@shop.example\r\nSubject: Broken teapot\r\n"
        f"Message-ID: <{msgid}>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        'Content-Type: text/plain; charset="x-made-up"\r\n\r\nMy teapot arrived broken, photo attached.\r\n'
        '--b\r\nContent-Type: image/png; name="teapot.png"\r\n'
        'Content-Disposition: attachment; filename="teapot.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        "iVBORw0KGgo=\r\n--b--\r\n"
    ).encode()


@pytest.fixture
def world(settings: Any, tmp_path: Any, agent: Any, manager: Any) -> dict[str, Any]:
    settings.MEDIA_ROOT = tmp_path
    settings.HEEDFUL_INBOX_WEBHOOKS = [{"url": "https://hooks.example/inbox", "secret": "s3cret"}]
    settings.HEEDFUL_INBOX_CSAT_AFTER_RESOLVE = False
    settings.HEEDFUL_BUSINESS_HOURS = "mon-sun 00:00-23:59"

    # Rosa 1: an email with an attachment; the agent answers, resolves, she rates it.
    first = mail_in.ingest_email(_email_with_attachment(ROSA, "Rosa Diaz", "rosa-1@customer.test"))
    assert first is not None
    rosa_mail = first.conversation
    services.take_over(conversation=rosa_mail, user=agent)
    services.reply_as_agent(conversation=rosa_mail, user=agent, body="Sorry, Rosa! A new one is on its way.")
    services.resolve_conversation(conversation=rosa_mail, user=agent)
    question = csat.send_csat_request(rosa_mail)
    assert question is not None
    csat.record_csat_answer(request=question, rating=5, comment="Rosa here: great service")
    rosa = Contact.objects.get(email=ROSA)
    crm.add_note(contact=rosa, user=agent, body="Rosa prefers email.")

    # Rosa 2: a thread kept under her address without a contact link (from before the CRM knew her).
    old = Conversation.objects.create(
        channel=Channel.EMAIL, customer_email=ROSA.upper(), customer_name="Rosa D.", status=Status.OPEN
    )
    services.receive_customer_message(conversation=old, body="Any news?", bot=False)
    old.assignee = agent
    old.first_response_due_at = timezone.now() - timedelta(hours=1)
    old.save()
    sla.detect_sla_breaches()

    # Rosa 3: a chat in which she proves an order is hers by giving her address.
    order = OrderFactory(number="HF-20001", customer_email=ROSA, customer_name="Rosa Diaz")
    OrderFactory(number="HF-20002", customer_email=ROSA, customer_name="Rosa Diaz")
    session = chat.start_visitor_session(origin="https://shop.example")
    chat.post_visitor_message(visitor=session.visitor, text=f"where is my order HF-20001? my email is {ROSA}")
    services.send_order_update(order, "shipped")

    # Ben: an email conversation, an order and a CSAT answer of his own.
    ben_first = mail_in.ingest_email(_email_with_attachment(BEN, "Ben Ott", "ben-1@customer.test"))
    assert ben_first is not None
    ben_mail = ben_first.conversation
    services.reply_as_agent(conversation=ben_mail, user=agent, body="Hello Ben, sorry about that.")
    services.resolve_conversation(conversation=ben_mail, user=agent)
    ben_question = csat.send_csat_request(ben_mail)
    assert ben_question is not None
    csat.record_csat_answer(request=ben_question, rating=2, comment="slow")
    OrderFactory(number="HF-30001", customer_email=BEN, customer_name="Ben Ott")
    return {"rosa": rosa, "token": session.token, "agent": agent, "manager": manager}


def _files_of(email: str) -> list[str]:
    messages = Message.objects.filter(email_from=email)
    return sorted(
        [
            *Attachment.objects.filter(message__in=messages).values_list("stored_path", flat=True),
            *messages.exclude(raw_file="").values_list("raw_file", flat=True),
        ]
    )


def test_erasing_a_contact_removes_everything_the_inbox_holds_about_them(
    world, django_capture_on_commit_callbacks
):
    rosas_files, bens_files = _files_of(ROSA), _files_of(BEN)
    assert (len(rosas_files), len(bens_files)) == (2, 2)  # an attachment and the kept original each
    assert _rows() == {
        "contacts": 2,
        "notes": 1,
        "timeline": 14,  # Rosa 8 (created, 5 messages, her rating, the note), Ben 6
        "conversations": 5,  # Rosa 4 (mail, old thread, chat, order update), Ben 1
        "messages": 12,  # Rosa 8, Ben 4
        "attachments": 2,
        "chat_visitors": 1,
        "sla_breaches": 1,
        "sla_notices": 1,
        "csat": 2,
        "orders": 3,
        "order_updates": 1,
        "webhook_deliveries": 12,  # Rosa 8, Ben 4
    }

    with django_capture_on_commit_callbacks(execute=True):
        report = crm.erase_contact(contact=world["rosa"], user=world["manager"])

    assert _rows() == {
        "contacts": 1,
        "notes": 0,
        "timeline": 6,
        "conversations": 1,
        "messages": 4,
        "attachments": 1,
        "chat_visitors": 0,
        "sla_breaches": 0,
        "sla_notices": 0,
        "csat": 2,  # Rosa's kept without her, for the team's results
        "orders": 1,
        "order_updates": 0,
        "webhook_deliveries": 4,
    }
    assert report.rows == {
        "crm.contacts": 1,
        "crm.decisions_anonymised": 3,  # her hand-off, the CSAT question, the order update
        "crm.notes": 1,
        "crm.proposals_anonymised": 0,
        "crm.proposals_withdrawn": 0,
        "crm.tag_links": 0,
        "crm.timeline": 8,
        # her contact's 2, her conversations' 9 (their titles name her, the reply's text), the order's 1
        "governance.audit_events_redacted": 12,
        "inbox.attachments": 1,
        "inbox.chat_visitors": 1,
        "inbox.conversations": 4,
        "inbox.csat_anonymised": 1,
        "inbox.decisions_anonymised": 1,  # the chat answer, made before anyone knew who she was
        "inbox.messages": 8,
        "inbox.order_updates": 1,
        "inbox.orders": 2,
        "inbox.proposals_anonymised": 0,
        "inbox.proposals_withdrawn": 0,
        "inbox.sent_mail_copies": 0,  # mail goes to the test outbox here; see the last test
        "inbox.sla_breaches": 1,
        "inbox.sla_notices": 1,
        "inbox.webhook_deliveries": 8,
        "workflows.decisions_anonymised": 0,
        "workflows.emails": 0,
        "workflows.emails_not_sent": 0,
        # contact.created, the conversation events that name her, and the chat's, which does
        # not: its label quotes what she typed (workflows/erasure.py)
        "workflows.events": 5,
        "workflows.proposals_anonymised": 0,
        "workflows.proposals_withdrawn": 0,
        "workflows.runs": 0,
        "workflows.runs_cancelled": 0,
        "workflows.tasks": 0,
    }
    assert report.total == 59
    assert [default_storage.exists(name) for name in rosas_files + bens_files] == [False, False, True, True]
    assert not Conversation.objects.filter(customer_email__iexact=ROSA).exists()
    assert not Message.objects.filter(body__icontains="rosa").exists()
    assert not Order.objects.filter(customer_name__icontains="rosa").exists()


def test_the_team_keeps_its_csat_results_without_the_person(world):
    before = {days: csat_results(user=world["manager"], days=days) for days in (30, 90)}

    crm.erase_contact(contact=world["rosa"], user=world["manager"])

    after = {days: csat_results(user=world["manager"], days=days) for days in (30, 90)}
    assert after == before
    assert sorted(CsatRequest.objects.values_list("rating", "comment", "conversation__customer_email")) == [
        (2, "slow", BEN),
        (5, "", None),
    ]


def test_the_erasure_is_audited_with_counts_and_without_the_erased_data(world):
    report = crm.erase_contact(contact=world["rosa"], user=world["manager"])

    event = AuditEvent.objects.get(action="contact.erase")
    assert (event.actor_user, event.object_type, event.object_id) == (
        world["manager"],
        "contact",
        str(report.contact_id),
    )
    assert event.changes == {"rows": report.rows}
    text = json.dumps([event.object_repr, event.summary, event.changes]).lower()
    assert "rosa" not in text
    assert "diaz" not in text
    # Nor any earlier event: her conversations' titles, the agent's reply, her note, the order.
    log = json.dumps(list(AuditEvent.objects.values()), default=str).lower()
    assert [word for word in ("rosa", "diaz", "hf-20001", "a new one is on its way") if word in log] == []
    assert log.count("ben ott") == 7  # his contact's name and summary, his conversation's 5 events


def test_decisions_about_the_person_stay_without_their_name(world):
    rosa = world["rosa"]
    about_rosa = DecisionRecord.objects.filter(subject_type="contact", subject_id=str(rosa.pk))
    assert about_rosa.count() == 3

    crm.erase_contact(contact=rosa, user=world["manager"])

    assert set(about_rosa.values_list("subject_label", flat=True)) == {"(erased)"}
    assert not DecisionRecord.objects.filter(subject_label__icontains="rosa").exists()
    assert DecisionRecord.objects.filter(subject_label=BEN).count() == 2


def test_the_preview_counts_what_the_erasure_then_removes(world):
    preview = crm.erasure_preview(world["rosa"])
    rows_before = _rows()

    report = crm.erase_contact(contact=world["rosa"], user=world["manager"])

    assert _rows() != rows_before
    assert report.rows == preview.rows


def test_a_failed_erasure_erases_nothing(world, monkeypatch):
    from heedful.crm import erasure

    def broken(contact: Contact, *, dry_run: bool, subjects: Any) -> dict[str, int]:
        raise RuntimeError("disk full")

    monkeypatch.setitem(erasure._erasers, "zz-broken", broken)
    rows_before = _rows()

    with pytest.raises(RuntimeError):
        crm.erase_contact(contact=world["rosa"], user=world["manager"])

    assert _rows() == rows_before
    assert not AuditEvent.objects.filter(action="contact.erase").exists()


def test_the_widget_token_of_an_erased_visitor_reaches_nothing(world):
    client = Client()
    poll = {"HTTP_X_HEEDFUL_VISITOR": world["token"]}
    assert client.get("/inbox/widget/api/messages", **poll).status_code == 200

    crm.erase_contact(contact=world["rosa"], user=world["manager"])

    assert client.get("/inbox/widget/api/messages", **poll).status_code == 401


def test_kept_copies_of_outgoing_mail_that_name_the_person_go_and_the_rest_stay(
    world, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "sent-mail"
    (tmp_path / "sent-mail").mkdir()
    # The file backend names a connection's file by the second and id(connection): both stay
    # alive here, so a connection freed and another made at its address in the same second
    # cannot append to the first one's file (it did, once in a while, on the CI).
    both, rosa_only = get_connection(), get_connection()
    with both:  # one file holding both customers' mail
        both.send_messages(
            [
                EmailMessage("Your teapot", "On its way.", "help@shop.example", [ROSA]),
                EmailMessage("Your order", "Shipped.", "help@shop.example", [BEN]),
            ]
        )
    with rosa_only:
        rosa_only.send_messages([EmailMessage("Rated", "Thanks!", "help@shop.example", [ROSA.upper()])])
    # The overdue notice to the agent names her ("Rosa D.") and links her old thread, no address.
    assert sla.send_notice_email(SlaNotice.objects.get().pk) is True
    files = sorted(
        (tmp_path / "sent-mail").iterdir(),
        key=lambda f: ("Overdue" in f.read_text(), BEN not in f.read_text()),
    )
    assert [(BEN in f.read_text(), ROSA in f.read_text().lower()) for f in files] == [
        (True, True),
        (False, True),
        (False, False),
    ]

    assert crm.erasure_preview(world["rosa"]).rows["inbox.sent_mail_copies"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        report = crm.erase_contact(contact=world["rosa"], user=world["manager"])

    assert report.rows["inbox.sent_mail_copies"] == 3
    assert [f.exists() for f in files] == [True, False, False]
    kept = files[0].read_text()
    assert (kept.count("Subject:"), BEN in kept, ROSA in kept) == (1, True, False)
