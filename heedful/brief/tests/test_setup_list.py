"""The owner's setup list: read from the data, gone when done or hidden, for the owner only."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client

from heedful.governance.models import AuditEvent

pytestmark = pytest.mark.django_db

STEPS = ["mail", "team", "knowledge", "chat", "mailbox", "people", "workflow"]


def _steps(response: Any) -> list[tuple[str, bool]]:
    return [(step.key, step.done) for step in response.context["setup"]]


def test_a_new_installation_lists_every_step_with_what_to_do(owner_client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.HEEDFUL_IMAP_HOST = ""

    response = owner_client.get("/")

    assert _steps(response) == [(key, False) for key in STEPS]
    html = response.content.decode()
    assert "7 steps left" in html
    assert "written to the sent-mail folder of the data directory instead of sent" in html
    assert '<a href="/knowledge/">Teach the bot your answers</a>' in html
    assert "HEEDFUL_WIDGET_ALLOWED_ORIGINS" in html


def test_each_step_is_done_by_the_data_and_the_list_goes_when_all_are(
    owner_client: Client, owner: Any, agent: Any, settings: Any
) -> None:
    from heedful.inbox.tests.factories import ConversationFactory
    from heedful.knowledge.services import create_faq_entry
    from heedful.people.tests.factories import EmployeeFactory
    from heedful.workflows.tests.factories import make_workflow

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.HEEDFUL_IMAP_HOST = ""
    create_faq_entry(question="Do you ship abroad?", answer="To the EU.", automation="tests")
    EmployeeFactory(start_date=date(2021, 3, 1))

    partly = owner_client.get("/")

    assert _steps(partly) == [
        ("mail", True),
        ("team", True),  # the agent
        ("knowledge", True),
        ("chat", False),
        ("mailbox", False),
        ("people", True),
        ("workflow", False),
    ]
    assert "3 steps left" in partly.content.decode()

    ConversationFactory(channel="chat")
    settings.HEEDFUL_IMAP_HOST = "imap.example.com"
    make_workflow(enabled=True)

    done = owner_client.get("/")

    assert done.context["setup"] == []
    assert 'id="setup-list"' not in done.content.decode()
    assert 'id="setup-show"' not in done.content.decode()


def test_hiding_and_showing_the_list_is_the_owner_s_and_audited(
    owner_client: Client, manager_client: Client, owner: Any
) -> None:
    assert 'id="setup-list"' in owner_client.get("/").content.decode()
    assert manager_client.get("/").context["setup"] == []  # a manager does not set heedful up
    assert manager_client.post("/setup-list/", {"hide": "1"}).status_code == 403

    owner_client.post("/setup-list/", {"hide": "1"})
    hidden = owner_client.get("/").content.decode()
    owner_client.post("/setup-list/", {})
    shown = owner_client.get("/").content.decode()

    assert 'id="setup-list"' not in hidden
    assert "Show the setup list (" in hidden
    assert 'id="setup-list"' in shown
    audited = AuditEvent.objects.filter(action__startswith="brief.setup_list").order_by("pk")
    assert list(audited.values_list("action", flat=True)) == [
        "brief.setup_list.hide",
        "brief.setup_list.show",
    ]
