from __future__ import annotations

import pytest

from heedful.crm.models import Contact, Note, TimelineEntry
from heedful.crm.tests.factories import ContactFactory
from heedful.governance import services as trust
from heedful.governance.models import ProposalStatus

pytestmark = pytest.mark.django_db


def _propose(action_type: str, params: dict, key: str = "k1"):  # type: ignore[no-untyped-def, type-arg]
    return trust.propose_action(
        action_type=action_type,
        params=params,
        explanation="test",
        proposed_by="rule:test",
        idempotency_key=key,
    )


def test_add_tag_waits_for_approval_runs_once_and_undo_removes_the_tag(manager, owner):
    contact = ContactFactory()

    proposal = _propose("crm.add_tag", {"contact_id": contact.pk, "tag_name": "needs-attention"})
    assert proposal.status == ProposalStatus.PENDING
    trust.approve_action(proposal.pk, user=manager, edited_params={"tag_name": "urgent"})
    done = trust.execute_action(proposal.pk)
    again = trust.execute_action(proposal.pk)

    assert done is not None
    assert again is not None
    assert (done.status, done.result) == (
        ProposalStatus.DONE,
        {"summary": f"Tagged {contact} urgent", "added": True},
    )
    assert done.undo_data == {"contact_id": contact.pk, "tag_name": "urgent"}
    assert again.execution_count == 1
    assert list(contact.tags.values_list("name", flat=True)) == ["urgent"]

    undone = trust.undo_action(proposal.pk, user=owner)

    assert undone.status == ProposalStatus.UNDONE
    assert not contact.tags.exists()


def test_add_tag_on_an_already_tagged_contact_changes_nothing_and_cannot_be_undone(manager):
    contact = ContactFactory(tags=["vip"])
    proposal = _propose("crm.add_tag", {"contact_id": contact.pk, "tag_name": "vip"})
    trust.approve_action(proposal.pk, user=manager)

    done = trust.execute_action(proposal.pk)

    assert done is not None
    assert (done.status, done.undo_data, done.can_undo) == (ProposalStatus.DONE, None, False)
    assert list(contact.tags.values_list("name", flat=True)) == ["vip"]
    assert not TimelineEntry.objects.exists()


def test_add_tag_for_a_missing_contact_fails_with_the_reason(manager):
    proposal = _propose("crm.add_tag", {"contact_id": 999, "tag_name": "vip"})
    trust.approve_action(proposal.pk, user=manager)

    failed = trust.execute_action(proposal.pk)

    assert failed is not None
    assert (failed.status, failed.error) == (ProposalStatus.FAILED, "Contact #999 does not exist (any more).")


def test_add_note_runs_automatically_notes_once_and_offers_no_undo():
    contact = ContactFactory()

    proposal = _propose("crm.add_note", {"contact_id": contact.pk, "body": "First order: add a card."})
    assert proposal.status == ProposalStatus.APPROVED
    done = trust.execute_action(proposal.pk)

    assert done is not None
    note = Note.objects.get()
    assert (note.contact, note.body, note.automation, note.author) == (
        contact,
        "First order: add a card.",
        "rule:test",
        None,
    )
    assert (done.status, done.undo_data, done.result) == (
        ProposalStatus.DONE,
        None,
        {"summary": f"Added a note to {contact}", "note_id": note.pk},
    )
    assert TimelineEntry.objects.get().actor_automation == "rule:test"
    assert Contact.objects.count() == 1
