"""Scrubbing an erased person out of the decisions and proposals about them (promise 4).

What promise 2 needs stays: which automation decided, with what confidence, when, what became
of it and who approved it. Everything said about the person goes. Noor (contact 7) is erased;
the decision and proposal about contact 8 must not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from heedful.accounts.models import User
from heedful.governance import services
from heedful.governance.models import DecisionRecord, ProposalStatus, ProposedAction
from heedful.governance.services import Scrubbed, Subject, scrub_decisions_and_proposals
from heedful.governance.tests.factories import DecisionRecordFactory

pytestmark = pytest.mark.django_db

Propose = Callable[..., ProposedAction]
E = "(erased)"


def _rows(model: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in model.objects.order_by("pk").values()]


@pytest.fixture
def world(propose: Propose, manager: User) -> dict[str, Any]:
    decision = DecisionRecordFactory(subject_id="7", subject_label="Noor Okafor", outcome="")
    done = propose(decision=decision)
    services.approve_action(done.pk, user=manager)
    services.execute_action(done.pk)
    rejected = propose(note="Send Noor a voucher")
    services.reject_action(rejected.pk, user=manager, reason="Noor asked us not to.")
    other = DecisionRecordFactory(subject_id="8", subject_label="Ben Ott")
    return {
        "decision": decision,
        "done": done,
        "rejected": rejected,
        "other_decision": other,
        "other_proposal": propose(
            note="Call Ben",
            explanation="Ben waited.",
            subject=Subject("contact", "8", "Ben Ott"),
            decision=other,
        ),
    }


def test_it_erases_what_was_said_and_keeps_who_decided_how_surely_when_and_what_became_of_it(
    world: dict[str, Any], manager: User
) -> None:
    decisions, proposals = (
        {row["id"]: row for row in _rows(DecisionRecord)},
        {row["id"]: row for row in _rows(ProposedAction)},
    )
    decision, done, rejected = world["decision"], world["done"], world["rejected"]
    assert decisions[decision.pk]["outcome"] == "Done: Wrote the note “Call Noor back”"
    assert proposals[done.pk]["undo_data"] is not None

    assert scrub_decisions_and_proposals(subject_type="contact", subject_ids=[7, "7"]) == Scrubbed(1, 2)

    after = {row["id"]: row for row in _rows(DecisionRecord)}
    assert after[decision.pk] == {
        **decisions[decision.pk],
        "subject_label": E,
        "inputs": {"message": E, "waited_hours": E},
        "output": {"sentiment": E},
        "output_summary": E,
        "factors": [{"text": E, "weight": E}] * 3,
        "outcome": E,
    }
    after_p = {row["id"]: row for row in _rows(ProposedAction)}
    assert after_p[done.pk] == {
        **proposals[done.pk],
        "subject_label": E,
        "params": {"note": E},
        "explanation": E,
        "result": {"summary": E, "effect_id": E},
        "undo_data": None,  # what it would restore was the person's
    }
    assert after_p[rejected.pk] == {
        **proposals[rejected.pk],
        "subject_label": E,
        "params": {"note": E},
        "explanation": E,
        "decision_reason": E,
    }
    # Who decided, and when, and what became of it: unchanged by the spread above, and here.
    assert (after_p[rejected.pk]["status"], after_p[rejected.pk]["decided_by_id"]) == (
        ProposalStatus.REJECTED,
        manager.pk,
    )
    assert (after[decision.pk]["confidence"], after[decision.pk]["actor_name"]) == (0.82, "triage")
    for model, name in ((DecisionRecord, "other_decision"), (ProposedAction, "other_proposal")):
        before = decisions if model is DecisionRecord else proposals
        assert model.objects.values().get(pk=world[name].pk) == before[world[name].pk]


def test_a_dry_run_counts_and_changes_nothing(world: dict[str, Any]) -> None:
    before = (_rows(DecisionRecord), _rows(ProposedAction))

    assert scrub_decisions_and_proposals(
        subject_type="contact", subject_ids=["7", "8", "99"], dry_run=True
    ) == Scrubbed(2, 3)
    assert (_rows(DecisionRecord), _rows(ProposedAction)) == before


def test_no_ids_or_no_type_scrubs_nothing(world: dict[str, Any]) -> None:
    before = (_rows(DecisionRecord), _rows(ProposedAction))

    assert scrub_decisions_and_proposals(subject_type="contact", subject_ids=[]) == Scrubbed(0, 0)
    assert scrub_decisions_and_proposals(subject_type="", subject_ids=["7"]) == Scrubbed(0, 0)
    assert (_rows(DecisionRecord), _rows(ProposedAction)) == before


def test_scrubbing_twice_leaves_the_same_rows(world: dict[str, Any]) -> None:
    scrub_decisions_and_proposals(subject_type="contact", subject_ids=["7"])
    once = (_rows(DecisionRecord), _rows(ProposedAction))

    assert scrub_decisions_and_proposals(subject_type="contact", subject_ids=["7"]) == Scrubbed(1, 2)
    assert (_rows(DecisionRecord), _rows(ProposedAction)) == once


def test_the_decision_and_approval_pages_show_scrubbed_rows_without_undo(
    world: dict[str, Any], manager_client: Client
) -> None:
    scrub_decisions_and_proposals(subject_type="contact", subject_ids=["7"])
    decision, done = world["decision"], world["done"]

    detail = manager_client.get(f"/trust/decisions/{decision.pk}/")
    approvals = manager_client.get("/trust/approvals/")

    assert (detail.status_code, approvals.status_code) == (200, 200)
    assert [(f.text, f.weight, f.magnitude) for f in detail.context["factors"]] == [(E, None, 0)] * 3
    html = detail.content.decode()
    assert "<h1>(erased)</h1>" in html
    assert "<strong>triage</strong>, version 3" in html
    assert "82 %" in html
    assert '<th scope="row">waited_hours</th><td>(erased)</td>' in html
    assert "Write a test note: Write the note “(erased)”" in html
    rows = {item["row"].pk: item["row"] for item in approvals.context["recent"]}
    assert (rows[done.pk].description, rows[done.pk].undoable) == ("Write the note “(erased)”", False)
    page = approvals.content.decode()
    assert ("Noor" in page, "Call Ben" in page) == (False, True)
    assert f'action="/trust/approvals/{done.pk}/undo/"' not in page
