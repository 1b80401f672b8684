"""The owner signs in with a real browser and approves what an automation proposed."""

from __future__ import annotations

from typing import Any

import pytest

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.crm.models import Contact
from heedful.crm.services import create_contact
from heedful.governance import services
from heedful.governance.models import ProposalStatus, ProposedAction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_signs_in_and_approves_a_queued_action(page: Any, live_server: Any) -> None:
    UserFactory(email="olivia@example.com", role=Role.OWNER, password="correct-horse-battery")
    contact = create_contact(email="noor@example.com", first_name="Noor", last_name="Okafor")
    decision = services.record_decision(
        actor_kind="model",
        actor_name="triage",
        actor_version="1",
        subject=services.Subject.of(contact, "contact"),
        output_summary="Upset customer",
        confidence=0.82,
        factors=[{"text": "waited 26 h without a reply", "weight": 0.4}],
    )
    proposal = services.propose_action(
        action_type="crm.add_tag",
        params={"contact_id": contact.pk, "tag_name": "needs-attention"},
        explanation="Triage scored this customer as upset.",
        proposed_by="triage",
        subject=services.Subject.of(contact, "contact"),
        decision=decision,
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill("olivia@example.com")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("#pending-approvals .count").inner_text() == "1"

    page.locator("#pending-approvals").click()
    row = page.locator(f"#proposal-{proposal.pk}")
    assert "Triage scored this customer as upset." in row.inner_text()
    assert "waited 26 h without a reply" in row.inner_text()
    row.get_by_role("button", name="Approve").click()
    # htmx swaps the row in place; the decision shows without a reload.
    row.get_by_text("Approved").wait_for()
    page.screenshot(path="test-results/approval.png")

    approved = ProposedAction.objects.get(pk=proposal.pk)
    assert approved.status == ProposalStatus.APPROVED
    assert approved.decided_by is not None
    assert approved.decided_by.email == "olivia@example.com"
    services.execute_action(proposal.pk)  # what the worker does; the Redis test covers the worker itself
    assert list(Contact.objects.get(pk=contact.pk).tags.values_list("name", flat=True)) == ["needs-attention"]
