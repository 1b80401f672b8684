"""The REST API of the trust spine, called with real API tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from heedful.accounts.models import User
from heedful.governance import services
from heedful.governance.models import AuditEvent, ProposalStatus, ProposedAction
from heedful.governance.tests.factories import DecisionRecordFactory

pytestmark = pytest.mark.django_db

Propose = Callable[..., ProposedAction]
ClientFor = Callable[[User], APIClient]


def _status(proposal: ProposedAction) -> str:
    return ProposedAction.objects.values_list("status", flat=True).get(pk=proposal.pk)


# --- Decisions ------------------------------------------------------------------------------


def test_decisions_are_listed_with_their_factors_and_filtered(
    api_client_for: ClientFor, manager: User, propose: Propose
) -> None:
    noor = DecisionRecordFactory(subject_type="contact", subject_id="7", actor_name="triage")
    DecisionRecordFactory(subject_type="contact", subject_id="8", actor_name="triage")
    DecisionRecordFactory(subject_type="contact", subject_id="7", actor_name="faq-matcher")
    proposal = propose(decision=noor)

    response = api_client_for(manager).get(
        "/api/v1/decisions/", {"subject_type": "contact", "subject_id": "7", "actor": "triage"}
    )

    assert response.status_code == 200
    assert response.json()["count"] == 1
    body = response.json()["results"][0]
    assert body["id"] == noor.pk
    assert (body["actor_kind"], body["actor_name"], body["actor_version"]) == ("model", "triage", "3")
    assert body["factors"] == [
        {"text": "waited 26 h without a reply", "weight": 0.25},
        {"text": 'negative wording ("still", "refund")', "weight": 0.4},
        {"text": "a long-time customer", "weight": -0.1},
    ]
    assert body["inputs"] == {"message": "Where is my order?", "waited_hours": 26}
    assert body["confidence"] == 0.82
    assert body["outcome"] == f"Waiting for approval (#{proposal.pk})"
    assert body["proposals"] == [proposal.pk]


def test_decisions_scrubbed_with_an_erased_person_are_still_listed(
    api_client_for: ClientFor, manager: User
) -> None:
    # Found by schemathesis after it erased a contact: "(erased)" weights made the list a 500.
    DecisionRecordFactory(subject_type="contact", subject_id="7")
    services.scrub_decisions_and_proposals(subject_type="contact", subject_ids=["7"])

    response = api_client_for(manager).get("/api/v1/decisions/")

    assert response.status_code == 200
    assert response.json()["results"][0]["factors"] == [{"text": "(erased)", "weight": None}] * 3


def test_one_decision_about_an_employee_is_audited_when_read(
    api_client_for: ClientFor, manager: User
) -> None:
    about_eli = DecisionRecordFactory(subject_type="employee", subject_id="12", subject_label="Eli Brandt")

    response = api_client_for(manager).get(f"/api/v1/decisions/{about_eli.pk}/")

    assert response.status_code == 200
    assert response.json()["subject_label"] == "Eli Brandt"
    assert list(AuditEvent.objects.filter(action="decision.read").values_list("actor_user", "object_id")) == [
        (manager.pk, str(about_eli.pk))
    ]


def test_an_agent_cannot_read_decisions(api_client_for: ClientFor, agent: User) -> None:
    decision = DecisionRecordFactory()

    client = api_client_for(agent)
    assert client.get("/api/v1/decisions/").status_code == 403
    assert client.get(f"/api/v1/decisions/{decision.pk}/").status_code == 403


# --- Audit log ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_only_the_owner_reads_the_audit_log(
    api_client_for: ClientFor, role: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(role)

    response = api_client_for(user).get("/api/v1/audit-events/")

    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not allow this (view_audit_log)."}


def test_the_owner_reads_and_filters_the_audit_log(api_client_for: ClientFor, owner: User) -> None:
    client = api_client_for(owner)  # creating the token is itself an audit event
    event = services.record_audit(
        action="action.reject", user=owner, object_type="proposedaction", object_id="5"
    )
    services.record_audit(action="action.reject", user=owner, object_type="proposedaction", object_id="6")

    response = client.get("/api/v1/audit-events/", {"action": "action.", "object_id": "5"})

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert response.json()["results"][0]["id"] == event.pk
    assert response.json()["results"][0]["actor_label"] == "olivia@example.com"
    assert client.get("/api/v1/audit-events/", {"since": "yesterday"}).status_code == 400


def test_the_audit_log_cannot_be_written_through_the_api(api_client_for: ClientFor, owner: User) -> None:
    event = services.record_audit(action="user.login", user=owner)
    client = api_client_for(owner)

    assert client.delete(f"/api/v1/audit-events/{event.pk}/").status_code == 405
    assert client.patch(f"/api/v1/audit-events/{event.pk}/", {"summary": "x"}).status_code == 405
    assert AuditEvent.objects.get(pk=event.pk).summary == ""


# --- Approvals ------------------------------------------------------------------------------


def test_approvals_are_listed_by_status(api_client_for: ClientFor, manager: User, propose: Propose) -> None:
    waiting = propose()
    rejected = propose(note="Other")
    services.reject_action(rejected.pk, user=manager, reason="No.")

    client = api_client_for(manager)
    pending = client.get("/api/v1/approvals/", {"status": "pending"}).json()
    everything = client.get("/api/v1/approvals/").json()

    assert [p["id"] for p in pending["results"]] == [waiting.pk]
    assert pending["results"][0]["description"] == "Write the note “Call Noor back”"
    assert pending["results"][0]["explanation"] == "Noor waited 26 hours for a reply."
    assert [p["id"] for p in everything["results"]] == [rejected.pk, waiting.pk]
    assert everything["results"][0]["decided_by"] == "max@example.com"


def test_approving_through_the_api_with_edited_details(
    api_client_for: ClientFor, manager: User, propose: Propose
) -> None:
    proposal = propose()

    response = api_client_for(manager).post(
        f"/api/v1/approvals/{proposal.pk}/approve/", {"params": {"note": "Call today"}}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["params"], response.json()["original_params"]) == (
        "approved",
        {"note": "Call today"},
        {"note": "Call Noor back"},
    )
    assert _status(proposal) == ProposalStatus.APPROVED


def test_editing_a_detail_that_is_not_editable_is_a_400(
    api_client_for: ClientFor, manager: User, propose: Propose
) -> None:
    proposal = propose()

    response = api_client_for(manager).post(
        f"/api/v1/approvals/{proposal.pk}/approve/", {"params": {"sleep": 9}}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "These details cannot be edited: sleep"}
    assert _status(proposal) == ProposalStatus.PENDING


def test_approving_what_was_already_decided_is_a_409(
    api_client_for: ClientFor, manager: User, owner: User, propose: Propose
) -> None:
    proposal = propose()
    services.approve_action(proposal.pk, user=owner)

    response = api_client_for(manager).post(f"/api/v1/approvals/{proposal.pk}/approve/", format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": "This proposal was already decided."}
    assert ProposedAction.objects.get(pk=proposal.pk).decided_by == owner


def test_rejecting_needs_a_reason(api_client_for: ClientFor, manager: User, propose: Propose) -> None:
    proposal = propose()
    client = api_client_for(manager)

    missing = client.post(f"/api/v1/approvals/{proposal.pk}/reject/", {}, format="json")
    blank = client.post(f"/api/v1/approvals/{proposal.pk}/reject/", {"reason": "  "}, format="json")

    assert (missing.status_code, missing.json()) == (400, {"reason": ["This field is required."]})
    assert (blank.status_code, blank.json()) == (400, {"reason": ["This field may not be blank."]})
    assert _status(proposal) == ProposalStatus.PENDING


def test_rejecting_with_a_reason_and_then_again(
    api_client_for: ClientFor, manager: User, propose: Propose
) -> None:
    proposal = propose()
    client = api_client_for(manager)

    first = client.post(f"/api/v1/approvals/{proposal.pk}/reject/", {"reason": "Not now."}, format="json")
    second = client.post(f"/api/v1/approvals/{proposal.pk}/reject/", {"reason": "Never."}, format="json")

    assert (first.status_code, first.json()["status"], first.json()["decision_reason"]) == (
        200,
        "rejected",
        "Not now.",
    )
    assert second.status_code == 409
    assert ProposedAction.objects.get(pk=proposal.pk).decision_reason == "Not now."


def test_undoing_through_the_api(
    api_client_for: ClientFor, manager: User, propose: Propose, effects: Callable[[], list[str]]
) -> None:
    proposal = propose()
    services.approve_action(proposal.pk, user=manager)
    services.execute_action(proposal.pk)
    client = api_client_for(manager)

    first = client.post(f"/api/v1/approvals/{proposal.pk}/undo/")
    second = client.post(f"/api/v1/approvals/{proposal.pk}/undo/")

    assert (first.status_code, first.json()["status"], first.json()["undone_by"]) == (
        200,
        "undone",
        "max@example.com",
    )
    assert (second.status_code, second.json()) == (409, {"detail": "This action cannot be undone."})
    assert effects() == []


@pytest.mark.parametrize("role", ["agent", "employee"])
def test_staff_without_the_right_cannot_decide(
    api_client_for: ClientFor, role: str, request: pytest.FixtureRequest, propose: Propose
) -> None:
    user: User = request.getfixturevalue(role)
    proposal = propose()
    client = api_client_for(user)

    assert client.get("/api/v1/approvals/").status_code == 403
    assert client.post(f"/api/v1/approvals/{proposal.pk}/approve/").status_code == 403
    assert client.post(f"/api/v1/approvals/{proposal.pk}/undo/").status_code == 403
    assert _status(proposal) == ProposalStatus.PENDING


def test_an_unknown_proposal_is_a_404(api_client_for: ClientFor, manager: User) -> None:
    client = api_client_for(manager)

    assert client.post("/api/v1/approvals/999/approve/").status_code == 404
    assert client.post("/api/v1/approvals/abc/approve/").status_code == 404


def test_the_list_costs_the_same_queries_for_many_proposals(
    api_client_for: ClientFor, manager: User, propose: Propose, django_assert_num_queries: Any
) -> None:
    for i in range(5):
        propose(note=f"Note {i}", decision=DecisionRecordFactory())
    client = api_client_for(manager)

    # token (+ last-used update), count, one page.
    with django_assert_num_queries(4):
        response = client.get("/api/v1/approvals/")

    assert response.json()["count"] == 5


# --- Schema ---------------------------------------------------------------------------------


def test_the_schema_describes_the_decision_endpoints(client: Any) -> None:
    schema = client.get("/api/openapi.json", {"format": "json"}).json()

    approve = schema["paths"]["/api/v1/approvals/{id}/approve/"]["post"]
    assert sorted(approve["responses"]) == ["200", "400", "401", "403", "404", "409", "413"]
    assert approve["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Approve"
    }
    assert schema["components"]["schemas"]["Reject"]["required"] == ["reason"]
    decisions = {p["name"] for p in schema["paths"]["/api/v1/decisions/"]["get"]["parameters"]}
    assert {"subject_type", "subject_id", "actor"} <= decisions
    audit = {p["name"] for p in schema["paths"]["/api/v1/audit-events/"]["get"]["parameters"]}
    assert {"actor", "action", "object_type", "object_id", "since", "until"} <= audit
    status = next(
        p for p in schema["paths"]["/api/v1/approvals/"]["get"]["parameters"] if p["name"] == "status"
    )
    assert status["schema"]["enum"] == [
        "approved",
        "blocked",
        "done",
        "expired",
        "failed",
        "pending",
        "rejected",
        "undone",
    ]
