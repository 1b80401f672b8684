"""SLA breaches: found by an idempotent sweep at a controlled time, told once, shown in words."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.inbox import sla
from heedful.inbox.hours import overdue_in_words
from heedful.inbox.models import SlaBreach, SlaKind, SlaNotice, Status
from heedful.inbox.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

DUE = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("late", "words"),
    [
        (timedelta(seconds=59), "0 min"),
        (timedelta(minutes=45, seconds=30), "45 min"),
        (timedelta(hours=2), "2 h"),
        (timedelta(hours=2, minutes=10, seconds=59), "2 h 10 min"),
        (timedelta(days=1, hours=3, minutes=5), "1 d 3 h"),
        (timedelta(days=2), "2 d"),
    ],
)
def test_overdue_spans_are_told_in_plain_words(late, words):
    assert overdue_in_words(late) == words


def test_a_breach_is_found_once_and_the_assignee_is_told_once(agent, django_capture_on_commit_callbacks):
    conversation = ConversationFactory(
        status=Status.OPEN, assignee=agent, customer_name="Anna Berg", first_response_due_at=DUE
    )

    assert sla.detect_sla_breaches(now=DUE - timedelta(minutes=1)) == 0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert sla.detect_sla_breaches(now=DUE + timedelta(hours=2, minutes=10)) == 1
    assert sla.detect_sla_breaches(now=DUE + timedelta(hours=3)) == 0

    breach = SlaBreach.objects.get()
    assert (breach.conversation, breach.kind, breach.due_at) == (conversation, SlaKind.FIRST_RESPONSE, DUE)
    notice = SlaNotice.objects.get()
    assert notice.user == agent
    assert len(callbacks) == 1  # one email task queued for the one notice

    assert sla.send_notice_email(notice.pk) is True
    assert sla.send_notice_email(notice.pk) is False  # a retried task sends nothing more
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ana@example.com"]
    assert email.subject.startswith(f"Overdue: first reply for conversation #{conversation.pk} (")
    assert "The first reply for the conversation with Anna Berg is overdue by" in email.body
    assert "It is assigned to you." in email.body
    assert f"/inbox/{conversation.pk}/" in email.body


def test_unassigned_breaches_go_to_the_managers_and_else_to_the_owner(manager, owner):
    second = UserFactory(email="mia@example.com", role=Role.MANAGER)
    ConversationFactory(status=Status.OPEN, first_response_due_at=DUE)

    sla.detect_sla_breaches(now=DUE + timedelta(minutes=5))

    assert sorted(SlaNotice.objects.values_list("user__email", flat=True)) == [
        "max@example.com",
        "mia@example.com",
    ]
    manager.is_active = second.is_active = False
    manager.save()
    second.save()
    ConversationFactory(status=Status.WAITING, resolution_due_at=DUE)

    sla.detect_sla_breaches(now=DUE + timedelta(minutes=5))

    assert list(
        SlaNotice.objects.filter(breach__kind=SlaKind.RESOLUTION).values_list("user__email", flat=True)
    ) == ["olivia@example.com"]


def test_answered_resolved_and_future_timers_are_no_breach(agent):
    ConversationFactory(
        status=Status.WAITING, assignee=agent, first_response_due_at=DUE, first_responded_at=DUE
    )
    ConversationFactory(status=Status.RESOLVED, assignee=agent, resolution_due_at=DUE, resolved_at=DUE)
    ConversationFactory(status=Status.OPEN, assignee=agent, first_response_due_at=DUE + timedelta(hours=1))
    ConversationFactory(status=Status.BOT, assignee=agent, first_response_due_at=DUE)  # handed back

    assert sla.detect_sla_breaches(now=DUE + timedelta(minutes=30)) == 0
    assert SlaBreach.objects.count() == 0


def test_both_timers_breach_separately_and_a_new_due_time_is_a_new_breach(agent):
    conversation = ConversationFactory(
        status=Status.OPEN,
        assignee=agent,
        first_response_due_at=DUE,
        resolution_due_at=DUE + timedelta(days=1),
    )

    assert sla.detect_sla_breaches(now=DUE + timedelta(days=2)) == 2
    # Answered, then handed off again later with a fresh first-reply timer that also runs out.
    conversation.first_response_due_at = DUE + timedelta(days=3)
    conversation.save()
    assert sla.detect_sla_breaches(now=DUE + timedelta(days=3, minutes=1)) == 1

    assert sorted(SlaBreach.objects.values_list("kind", "due_at")) == [
        (SlaKind.FIRST_RESPONSE, DUE),
        (SlaKind.FIRST_RESPONSE, DUE + timedelta(days=3)),
        (SlaKind.RESOLUTION, DUE + timedelta(days=1)),
    ]
    assert SlaNotice.objects.filter(user=agent).count() == 3


def test_a_failed_email_stays_unsent_with_its_reason_for_the_retry(agent, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    ConversationFactory(status=Status.OPEN, assignee=agent, first_response_due_at=DUE)
    sla.detect_sla_breaches(now=DUE + timedelta(minutes=1))
    notice = SlaNotice.objects.get()

    with pytest.raises(ConnectionRefusedError):
        sla.send_notice_email(notice.pk)

    notice.refresh_from_db()
    assert notice.emailed_at is None
    assert notice.email_error.startswith("ConnectionRefusedError:")


def test_the_inbox_shows_breaches_in_words_and_notices_can_be_dismissed(agent_client, agent):
    due = timezone.now() - timedelta(hours=2, minutes=10, seconds=20)
    conversation = ConversationFactory(
        status=Status.OPEN, assignee=agent, customer_name="Anna Berg", first_response_due_at=due
    )
    sla.detect_sla_breaches()

    html = agent_client.get("/inbox/").content.decode()
    assert html.count("first reply overdue by 2 h 10 min") == 2  # the notice and the row
    assert "Overdue, for you" in html
    page = agent_client.get(f"/inbox/{conversation.pk}/").content.decode()
    assert "first reply overdue by 2 h 10 min" in page

    notice = SlaNotice.objects.get()
    assert agent_client.post(f"/inbox/notices/{notice.pk}/dismiss/").status_code == 302

    html = agent_client.get("/inbox/").content.decode()
    assert "Overdue, for you" not in html
    assert html.count("first reply overdue by 2 h 10 min") == 1  # still on the row


def test_nobody_dismisses_someone_elses_notice(manager_client, agent):
    ConversationFactory(status=Status.OPEN, assignee=agent, first_response_due_at=DUE)
    sla.detect_sla_breaches(now=DUE + timedelta(minutes=1))
    notice = SlaNotice.objects.get()

    manager_client.post(f"/inbox/notices/{notice.pk}/dismiss/")

    notice.refresh_from_db()
    assert notice.dismissed_at is None


def test_the_api_lists_breaches_in_words(api_client_for, agent):
    due = timezone.now() - timedelta(days=1, hours=3, minutes=1)
    breached = ConversationFactory(status=Status.OPEN, assignee=agent, resolution_due_at=due)
    ConversationFactory(status=Status.OPEN, assignee=agent)

    rows = api_client_for(agent).get("/api/v1/inbox/conversations/?status=open").json()["results"]

    assert {row["id"]: row["sla_warnings"] for row in rows}[breached.pk] == ["resolution overdue by 1 d 3 h"]
    assert sorted(len(row["sla_warnings"]) for row in rows) == [0, 1]
