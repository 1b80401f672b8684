"""The inbox's newer pages in a real Chromium: an overdue conversation shown in words, a canned
response written with a live preview and inserted into the reply with htmx, and the customer's
CSAT click, comment and the manager's report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.inbox import csat, sla
from heedful.inbox.models import Author, Channel, Conversation, CsatRequest, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


PASSWORD = "pw-horse-battery"


def _sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_a_manager_works_an_overdue_conversation_and_reads_the_customers_rating(
    browser: Any, live_server: Any
) -> None:
    manager = UserFactory(
        email="max@example.com",
        first_name="Max",
        last_name="Weber",
        role=Role.MANAGER,
        password="pw-horse-battery",
    )
    conversation = Conversation.objects.create(
        channel=Channel.EMAIL,
        customer_email="anna@example.com",
        customer_name="Anna Berg",
        subject="Where is my tea?",
        status=Status.OPEN,
        assignee=manager,
        first_response_due_at=timezone.now() - timedelta(hours=2, minutes=10, seconds=5),
    )
    sla.detect_sla_breaches()
    page = browser.new_context().new_page()
    failures: list[str] = []
    page.on("pageerror", lambda exc: failures.append(str(exc)))

    _sign_in(page, live_server.url, "max@example.com")

    # The breach, in words, in the notices and on the row.
    page.goto(f"{live_server.url}/inbox/")
    assert "first reply overdue by 2 h 10 min" in page.locator(".sla-notice").inner_text()
    assert "first reply overdue by 2 h 10 min" in page.locator(".inbox-row .sla-warning").inner_text()

    # A canned response with a token: the preview fills it while typing.
    page.goto(f"{live_server.url}/inbox/canned/new/")
    page.get_by_label("Title").fill("Sorry for the wait")
    page.get_by_label("Shortcut").fill("wait")
    page.get_by_label("Text").fill('Hi {{ customer.first_name|default:"there" }}, your tea left today.')
    page.locator("#canned-preview").get_by_text("Hi Anna, your tea left today.").wait_for()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/inbox/canned/")

    # In the conversation: inserted after what the agent wrote, filled for this customer.
    page.goto(f"{live_server.url}/inbox/{conversation.pk}/")
    assert "first reply overdue by 2 h 10 min" in page.locator("h1 + p").inner_text()
    page.locator("#id_body").fill("Thank you for your patience.")
    page.locator("button.canned-insert", has_text="Sorry for the wait").click()
    from playwright.sync_api import expect

    # expect() polls from Playwright's side. wait_for_function with a string evaluated it in the
    # page, which the Content-Security-Policy (no 'unsafe-eval') refused whenever the insert had
    # not landed by the first check: a flaky failure on a slow run.
    expect(page.locator("#id_body")).to_have_value(
        "Thank you for your patience.\n\nHi Anna, your tea left today."
    )
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_url(f"{live_server.url}/inbox/{conversation.pk}/")
    reply = conversation.messages.get(author_kind=Author.AGENT)
    assert reply.body == "Thank you for your patience.\n\nHi Anna, your tea left today."

    page.get_by_role("button", name="Resolve").click()
    page.wait_for_url(f"{live_server.url}/inbox/")
    question = csat.send_csat_request(Conversation.objects.get(pk=conversation.pk))  # what the task does
    assert question is not None

    # The customer clicks "4" in the email, then adds a comment.
    customer = browser.new_context().new_page()
    customer.goto(csat.rating_url(question, 4).replace("http://localhost:8000", live_server.url))
    assert customer.locator("#csat-status").inner_text() == "Thank you! Your rating: 4 of 5."
    customer.get_by_label("Anything you want to tell us? (optional)").fill("Friendly, a bit slow.")
    customer.get_by_role("button", name="Send").click()
    customer.locator("#csat-status").get_by_text("Your answer is saved.").wait_for()
    answered = CsatRequest.objects.get(pk=question.pk)
    assert (answered.rating, answered.comment) == (4, "Friendly, a bit slow.")

    page.goto(f"{live_server.url}/inbox/report/")
    first_row = page.locator("table[data-days='30'] tbody tr").first.inner_text().split("\t")
    assert [cell.strip() for cell in first_row] == ["Max Weber", "1", "1", "4.00", "100 %", "100 %"]
    assert "Friendly, a bit slow." in page.locator("#csat-comments + ul").inner_text()
    page.screenshot(path="test-results/inbox-report.png")
    assert failures == []


def test_an_agent_ticks_conversations_by_mouse_and_key_and_the_live_refresh_keeps_the_ticks(
    browser: Any, live_server: Any
) -> None:
    from playwright.sync_api import expect

    UserFactory(email="ana@example.com", role=Role.AGENT, password="pw-horse-battery")
    rows = [
        Conversation.objects.create(channel=Channel.CHAT, customer_name=name, status=Status.OPEN, priority=p)
        for name, p in (("Anna", 3.0), ("Ben", 2.0), ("Cleo", 1.0))
    ]
    context = browser.new_context()
    # Closed at the end: the list refreshes itself every 5 s, and a refresh reaching the test
    # server after the test's database is gone prints a traceback.
    page = context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    page.on("console", lambda msg: failures.append(msg.text) if msg.type == "error" else None)
    _sign_in(page, live_server.url, "ana@example.com")
    page.goto(f"{live_server.url}/inbox/")

    page.get_by_label(f"Tick conversation #{rows[0].pk}").check()
    page.locator("body").press("j")  # the first row, then the second
    page.locator("body").press("j")
    page.locator("body").press("x")
    # A conversation arrives; the refresh every 5 s would bring it, but waits while ticked.
    Conversation.objects.create(channel=Channel.CHAT, customer_name="Dora", status=Status.OPEN, priority=9.0)
    page.wait_for_timeout(6500)
    expect(page.locator(".inbox-row")).to_have_count(3)
    expect(page.get_by_label(f"Tick conversation #{rows[0].pk}")).to_be_checked()
    expect(page.get_by_label(f"Tick conversation #{rows[1].pk}")).to_be_checked()
    expect(page.get_by_label(f"Tick conversation #{rows[2].pk}")).not_to_be_checked()

    page.get_by_role("button", name="Resolve").click()
    page.wait_for_url(f"{live_server.url}/inbox/?view=open")

    assert "Resolved 2 conversations." in page.locator(".messages").inner_text()
    statuses = dict(Conversation.objects.values_list("customer_name", "status"))
    assert statuses == {"Anna": "resolved", "Ben": "resolved", "Cleo": "open", "Dora": "open"}
    expect(page.locator(".inbox-row")).to_have_count(2)
    context.close()
    assert failures == []
