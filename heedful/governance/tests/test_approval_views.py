"""The approval queue page: decide with or without JavaScript, one card swapped by htmx."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from heedful.accounts.models import User
from heedful.governance import services
from heedful.governance.models import AuditEvent, ProposalStatus, ProposedAction
from heedful.governance.tests.factories import DecisionRecordFactory

pytestmark = pytest.mark.django_db

Propose = Callable[..., ProposedAction]
HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = "/trust/approvals/"


def _url(name: str, proposal: ProposedAction) -> str:
    return reverse(f"governance:approval-{name}", args=[proposal.pk])


def _status(proposal: ProposedAction) -> str:
    return ProposedAction.objects.values_list("status", flat=True).get(pk=proposal.pk)


def _done(proposal: ProposedAction, user: User) -> None:
    services.approve_action(proposal.pk, user=user)
    services.execute_action(proposal.pk)


def test_the_url_names_are_the_ones_the_layout_links_to() -> None:
    assert reverse("governance:approval-list") == LIST
    assert reverse("governance:approval-approve", args=[3]) == "/trust/approvals/3/approve/"
    assert reverse("governance:approval-reject", args=[3]) == "/trust/approvals/3/reject/"
    assert reverse("governance:approval-undo", args=[3]) == "/trust/approvals/3/undo/"
    assert reverse("governance:policy-list") == "/trust/policies/"


def test_the_queue_shows_what_is_waiting_with_its_reasons(
    manager_client: Client, propose: Propose, owner: User, settings: Any
) -> None:
    settings.BUSINESS_TIME_ZONE = "Europe/Berlin"
    decision = DecisionRecordFactory()
    waiting = propose(decision=decision)
    ProposedAction.objects.filter(pk=waiting.pk).update(expires_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    decided = propose(note="Send the voucher")
    services.reject_action(decided.pk, user=owner, reason="Too generous.")

    response = Client().get(LIST)  # the business zone is read when a client's first request starts
    assert response.status_code == 302
    response = manager_client.get(LIST)

    assert response.status_code == 200
    assert [item["row"].pk for item in response.context["pending"]] == [waiting.pk]
    assert [item["row"].pk for item in response.context["recent"]] == [decided.pk]
    html = response.content.decode()
    card = html[html.index(f'id="proposal-{waiting.pk}"') : html.index(f'id="proposal-{decided.pk}"')]
    assert "Write a test note: Write the note “Call Noor back”" in card
    assert "Noor waited 26 hours for a reply." in card
    assert "negative wording (&quot;still&quot;, &quot;refund&quot;)" in card
    assert "+0.40" in card
    assert "-0.10" in card
    assert "Noor Okafor" in card
    assert "rule:follow-up" in card
    # 09:30 UTC is 10:30 in Berlin.
    assert '<time datetime="2026-12-01T10:30:00+01:00">' in card
    assert html.index(f'id="proposal-{waiting.pk}"') < html.index(f'id="proposal-{decided.pk}"')
    assert f'action="{_url("approve", waiting)}"' in card
    assert f'hx-post="{_url("approve", waiting)}"' in card
    assert "Too generous." in html[html.index(f'id="proposal-{decided.pk}"') :]


@pytest.mark.parametrize("client_name", ["employee_client", "agent_client"])
def test_staff_without_the_right_cannot_see_or_decide(
    client_name: str, request: pytest.FixtureRequest, propose: Propose
) -> None:
    client: Client = request.getfixturevalue(client_name)
    proposal = propose()

    assert client.get(LIST).status_code == 403
    assert client.post(_url("approve", proposal)).status_code == 403
    assert client.post(_url("reject", proposal), {"reason": "No"}).status_code == 403

    assert _status(proposal) == ProposalStatus.PENDING


def test_someone_signed_out_is_sent_to_sign_in(client: Client) -> None:
    response = client.get(LIST)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={LIST}"


def test_approving_without_javascript_redirects_back_with_a_message(
    manager_client: Client, propose: Propose, manager: User
) -> None:
    proposal = propose()

    response = manager_client.post(_url("approve", proposal), follow=True)

    assert response.redirect_chain == [(LIST, 302)]
    assert [str(m) for m in response.context["messages"]] == ["Decision saved: the action runs in a moment."]
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == (ProposalStatus.APPROVED, manager)


def test_approving_with_htmx_swaps_only_the_card(manager_client: Client, propose: Propose) -> None:
    proposal = propose()

    response = manager_client.post(_url("approve", proposal), **HTMX)

    assert response.status_code == 200
    assert response.templates[0].name == "governance/_proposal.html"
    html = response.content.decode()
    assert html.lstrip().startswith(f'<article class="card stack" id="proposal-{proposal.pk}"')
    assert "<html" not in html
    assert "Approved, about to run" in html
    assert "Decision saved: the action runs in a moment." in html
    assert _url("approve", proposal) not in html  # no buttons left to press twice
    assert _status(proposal) == ProposalStatus.APPROVED


def test_a_page_is_never_a_get_away_from_a_decision(manager_client: Client, propose: Propose) -> None:
    proposal = propose()

    assert manager_client.get(_url("approve", proposal)).status_code == 405
    assert _status(proposal) == ProposalStatus.PENDING


def test_edit_then_approve_runs_the_edited_details(manager_client: Client, propose: Propose) -> None:
    proposal = propose()

    response = manager_client.post(
        _url("approve", proposal), {"edit": "1", "note": "Call Noor today"}, **HTMX
    )

    assert response.status_code == 200
    proposal.refresh_from_db()
    assert (proposal.status, proposal.params, proposal.original_params) == (
        ProposalStatus.APPROVED,
        {"note": "Call Noor today"},
        {"note": "Call Noor back"},
    )


def test_an_unchanged_edit_form_approves_as_proposed(manager_client: Client, propose: Propose) -> None:
    proposal = propose()

    manager_client.post(_url("approve", proposal), {"edit": "1", "note": "Call Noor back"})

    proposal.refresh_from_db()
    assert (proposal.status, proposal.original_params) == (ProposalStatus.APPROVED, None)
    assert AuditEvent.objects.get(action="action.approve").changes == {}


def test_an_edit_that_empties_a_detail_is_refused(manager_client: Client, propose: Propose) -> None:
    proposal = propose()

    response = manager_client.post(_url("approve", proposal), {"edit": "1", "note": ""}, **HTMX)

    html = response.content.decode()
    assert "Check the details you edited." in html
    assert "This field is required." in html
    assert "<details open>" in html
    proposal.refresh_from_db()
    assert (proposal.status, proposal.params) == (ProposalStatus.PENDING, {"note": "Call Noor back"})


def test_rejecting_needs_a_reason_and_keeps_it(manager_client: Client, propose: Propose) -> None:
    proposal = propose()

    response = manager_client.post(_url("reject", proposal), {"reason": "  "}, **HTMX)
    assert "Say why the action is rejected." in response.content.decode()
    assert _status(proposal) == ProposalStatus.PENDING

    response = manager_client.post(_url("reject", proposal), {"reason": "Noor already called."}, **HTMX)

    html = response.content.decode()
    assert "Rejected" in html
    assert "Noor already called." in html
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decision_reason) == (ProposalStatus.REJECTED, "Noor already called.")


def test_the_reason_field_is_labelled_required_and_described(
    manager_client: Client, propose: Propose
) -> None:
    proposal = propose()

    html = manager_client.get(LIST).content.decode()

    field_id = f"id_reject_{proposal.pk}_reason"
    assert f'<label for="{field_id}">Why not?</label>' in html
    assert (
        f'<textarea name="reason" cols="40" rows="2" required aria-describedby="{field_id}_helptext" '
        f'id="{field_id}">'
    ) in html
    assert f'<p class="muted" id="{field_id}_helptext">Required.' in html


def test_a_decision_someone_else_made_first_is_shown_not_overwritten(
    manager_client: Client, propose: Propose, owner: User
) -> None:
    proposal = propose()
    services.reject_action(proposal.pk, user=owner, reason="Not now.")

    response = manager_client.post(_url("approve", proposal), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "This proposal was already decided." in html
    assert "Not now." in html

    response = manager_client.post(_url("approve", proposal), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["This proposal was already decided."]
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == (ProposalStatus.REJECTED, owner)


def test_a_done_action_with_undo_offers_undo_and_undoes(
    manager_client: Client, propose: Propose, manager: User, effects: Callable[[], list[str]]
) -> None:
    undoable = propose()
    _done(undoable, manager)
    permanent = propose(action_type="test.permanent", params={})
    _done(permanent, manager)

    html = manager_client.get(LIST).content.decode()
    assert f'action="{_url("undo", undoable)}"' in html
    assert _url("undo", permanent) not in html

    response = manager_client.post(_url("undo", undoable), **HTMX)

    assert "Undone." in response.content.decode()
    assert _status(undoable) == ProposalStatus.UNDONE
    assert effects() == []


def test_undoing_what_cannot_be_undone_says_so(
    manager_client: Client, propose: Propose, manager: User
) -> None:
    permanent = propose(action_type="test.permanent", params={})
    _done(permanent, manager)

    response = manager_client.post(_url("undo", permanent), follow=True)

    assert [str(m) for m in response.context["messages"]] == ["This action cannot be undone."]
    assert _status(permanent) == ProposalStatus.DONE


def test_an_agent_cannot_undo(agent_client: Client, propose: Propose, manager: User) -> None:
    proposal = propose()
    _done(proposal, manager)

    assert agent_client.post(_url("undo", proposal)).status_code == 403
    assert _status(proposal) == ProposalStatus.DONE


def test_the_queue_costs_the_same_queries_for_many_proposals(
    manager_client: Client, propose: Propose, owner: User, django_assert_num_queries: Any
) -> None:
    for i in range(6):
        proposal = propose(note=f"Note {i}", decision=DecisionRecordFactory())
        if i % 2:
            services.reject_action(proposal.pk, user=owner, reason="No.")
    manager_client.get(LIST)  # warm the session

    # session, user, the count for the pages, pending proposals (+decision, decided_by,
    # undone_by), the groups, recent ones.
    with django_assert_num_queries(6):
        response = manager_client.get(LIST)

    assert (len(response.context["pending"]), len(response.context["recent"])) == (3, 3)


BULK = "/trust/approvals/decide/"


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_queue_pages_by_25_and_counts_each_kind_and_automation(
    manager_client: Client, propose: Propose
) -> None:
    notes = [propose(note=f"Note {i}") for i in range(27)]
    other = propose(note="From elsewhere", proposed_by="workflow:welcome")

    first = manager_client.get(LIST)
    second = manager_client.get(LIST, {"page": 2})
    group = manager_client.get(LIST, {"type": "test.note", "by": "workflow:welcome"})

    assert [i["row"].pk for i in first.context["pending"]] == [p.pk for p in notes[:25]]
    assert [i["row"].pk for i in second.context["pending"]] == [notes[25].pk, notes[26].pk, other.pk]
    assert [(g.action_type, g.proposed_by, g.count) for g in first.context["groups"]] == [
        ("test.note", "rule:follow-up", 27),
        ("test.note", "workflow:welcome", 1),
    ]
    html = first.content.decode()
    assert "28 waiting" in html
    assert "Page 1 of 2" in html
    assert 'href="/trust/approvals/?type=test.note&amp;by=workflow%3Awelcome"' in html
    assert [i["row"].pk for i in group.context["pending"]] == [other.pk]
    assert group.context["recent"] == []


def test_ticked_proposals_are_approved_together_each_audited_as_the_persons_decision(
    manager_client: Client, manager: User, propose: Propose
) -> None:
    ticked = [propose(note=f"Note {i}") for i in range(3)]
    untouched = propose(note="Not ticked")

    response = manager_client.post(
        BULK,
        {"ids": [str(p.pk) for p in ticked], "decision": "approve", "type": "test.note", "by": ""},
        follow=True,
    )

    assert response.redirect_chain == [("/trust/approvals/?type=test.note", 302)]
    assert [_status(p) for p in ticked] == [ProposalStatus.APPROVED] * 3
    assert _status(untouched) == ProposalStatus.PENDING
    audited = AuditEvent.objects.filter(action="action.approve").order_by("id")
    assert [(e.object_id, e.actor_user_id) for e in audited] == [(str(p.pk), manager.pk) for p in ticked]
    assert _messages(response) == ["Approved 3 proposals: they run in a moment."]


def test_a_proposal_decided_meanwhile_is_skipped_with_its_reason_and_the_rest_go_through(
    manager_client: Client, owner: User, propose: Propose
) -> None:
    first, taken, last = propose(note="A"), propose(note="B"), propose(note="C")
    services.reject_action(taken.pk, user=owner, reason="Someone else said no.")

    response = manager_client.post(
        BULK,
        {"ids": [str(first.pk), str(taken.pk), str(last.pk), "999999"], "decision": "approve"},
        follow=True,
    )

    assert [_status(p) for p in (first, taken, last)] == [
        ProposalStatus.APPROVED,
        ProposalStatus.REJECTED,
        ProposalStatus.APPROVED,
    ]
    assert _messages(response) == [
        "Approved 2 proposals: they run in a moment.",
        f"2 proposals were left as they were. #{taken.pk}: This proposal was already decided. "
        "#999999: It no longer exists.",
    ]


def test_rejecting_together_needs_a_reason_which_each_proposal_keeps(
    manager_client: Client, propose: Propose
) -> None:
    ticked = [propose(note=f"Note {i}") for i in range(2)]
    ids = [str(p.pk) for p in ticked]

    refused = manager_client.post(BULK, {"ids": ids, "decision": "reject", "reason": "  "}, follow=True)
    assert [_status(p) for p in ticked] == [ProposalStatus.PENDING] * 2
    assert _messages(refused) == ["Say why the actions are rejected; the reason teaches the automation."]

    done = manager_client.post(BULK, {"ids": ids, "decision": "reject", "reason": "Wrong list."}, follow=True)
    assert list(ProposedAction.objects.filter(pk__in=ids).values_list("status", "decision_reason")) == [
        (ProposalStatus.REJECTED, "Wrong list."),
        (ProposalStatus.REJECTED, "Wrong list."),
    ]
    assert _messages(done) == ["Rejected 2 proposals."]


def test_deciding_together_needs_a_tick_the_right_and_a_bounded_number(
    manager_client: Client, agent_client: Client, propose: Propose
) -> None:
    proposal = propose()

    nothing = manager_client.post(BULK, {"decision": "approve"}, follow=True)
    too_many = manager_client.post(
        BULK, {"ids": [str(i) for i in range(1, 202)], "decision": "approve"}, follow=True
    )
    forbidden = agent_client.post(BULK, {"ids": [str(proposal.pk)], "decision": "approve"})

    assert _messages(nothing) == ["Tick the proposals to decide first."]
    assert _messages(too_many) == ["Decide at most 200 proposals at once."]
    assert forbidden.status_code == 403
    assert _status(proposal) == ProposalStatus.PENDING
    assert manager_client.get(BULK).status_code == 405
