"""Erasing a contact takes them out of the audit log too (promise 4, C25).

The log keeps that something was done, by whom and when, to which object (type and id); what
it said about the person (their name, addresses, phone, note and reply texts, the reasons
given about them) goes. Rosa is erased; Ben's events, made the same way, must not change.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from heedful.accounts.models import User
from heedful.crm import services as crm
from heedful.crm.models import Contact
from heedful.governance import services as trust
from heedful.governance.models import AppendOnlyError, AuditEvent, ProposalStatus, ProposedAction
from heedful.inbox import services as inbox
from heedful.inbox.models import Channel

pytestmark = pytest.mark.django_db


def _person(
    *, email: str, first: str, last: str, agent: User, manager: User, words: dict[str, str]
) -> Contact:
    """A contact with what agents and automations typically leave in the log about a person."""
    contact = crm.create_contact(email=email, first_name=first, tags=["newsletter"], user=agent)
    crm.update_contact(
        contact, user=agent, last_name=last, phone=words["phone"], email=words["new_email"], tags=["vip"]
    )
    crm.add_note(contact=contact, user=agent, body=words["note"])
    crm.tag_contact(contact=contact, tag_name=words["tag"], user=agent)
    conversation = inbox.start_conversation(
        channel=Channel.EMAIL,
        customer_email=words["new_email"],
        customer_name=f"{first} {last}",
        subject="Teapot",
    )
    inbox.reply_as_agent(conversation=conversation, user=agent, body=words["reply"])
    inbox.add_internal_note(conversation=conversation, user=agent, body=words["internal"])
    about = trust.Subject.of(contact, "contact")
    for params, reason in (
        ({"body": words["callback"]}, ""),  # auto: runs at once
        ({"tag_name": words["tag"]}, f"{first} {last} asked us not to"),  # ask: rejected
        ({"tag_name": "loyal"}, None),  # ask: still waiting when the erasure comes
    ):
        proposal = trust.propose_action(
            action_type="crm.add_note" if "body" in params else "crm.add_tag",
            params={"contact_id": contact.pk, **params},
            explanation=f"{first} asked for it",
            proposed_by="rule:callbacks",
            subject=about,
            run_inline=True,
        )
        if reason:
            trust.reject_action(proposal.pk, user=manager, reason=reason)
    return contact


# Who the tests erase (Rosa) and who must stay untouched (Ben): what heedful holds about each.
ROSA: dict[str, Any] = {
    "email": "rosa.diaz@old.test",
    "first": "Rosa",
    "last": "Diaz",
    "words": {
        "phone": "+44 20 7946 0958",
        "new_email": "rosa.diaz@new.test",
        "note": "Prefers calls after 5pm",
        "tag": "refund-claimant",
        "reply": "Your refund of 42 euros is on its way",
        "internal": "She sounded upset on the phone",
        "callback": "Call her back about the teapot",
    },
}
BEN: dict[str, Any] = {
    "email": "ben@old.test",
    "first": "Ben",
    "last": "Ott",
    "words": {
        "phone": "+44 20 7946 0001",
        "new_email": "ben@new.test",
        "note": "Ben likes mornings",
        "tag": "ben-tag",
        "reply": "Hello Ben, the mug is on its way",
        "internal": "Ben is happy",
        "callback": "Ring Ben",
    },
}


# Everything the log may have said about Rosa; none of it may be left anywhere in it.
ROSAS_DATA = [str(v).lower() for v in (ROSA["first"], ROSA["last"], ROSA["email"], *ROSA["words"].values())]


@pytest.fixture
def rosa(agent: User, manager: User) -> Contact:
    return _person(**ROSA, agent=agent, manager=manager)


@pytest.fixture
def ben(agent: User, manager: User) -> Contact:
    return _person(**BEN, agent=agent, manager=manager)


def _objects_of(contact: Contact) -> set[tuple[str, str]]:
    """The audit log's (object_type, object_id) of the contact, their conversations and proposals."""
    proposals = ProposedAction.objects.filter(subject_type="contact", subject_id=str(contact.pk))
    return (
        {("contact", str(contact.pk))}
        | {("conversation", str(pk)) for pk in contact.conversations.values_list("pk", flat=True)}
        | {("proposedaction", str(pk)) for pk in proposals.values_list("pk", flat=True)}
    )


def _log() -> list[dict[str, Any]]:
    return [dict(row) for row in AuditEvent.objects.order_by("pk").values()]


def _mentions(rows: list[dict[str, Any]], words: list[str]) -> list[str]:
    """Which of ``words`` appear anywhere in these rows: every field, the changes JSON included."""
    text = json.dumps(rows, default=str, ensure_ascii=False).lower()
    return [word for word in words if word in text]


def test_no_audit_event_says_anything_about_the_erased_person(
    rosa: Contact, ben: Contact, manager: User
) -> None:
    assert _mentions(_log(), ROSAS_DATA) == ROSAS_DATA  # the log did name her, everywhere
    bens = _objects_of(ben)
    bens_before = [row for row in _log() if (row["object_type"], row["object_id"]) in bens]

    crm.erase_contact(contact=rosa, user=manager)

    assert _mentions(_log(), ROSAS_DATA) == []
    assert [row for row in _log() if (row["object_type"], row["object_id"]) in bens] == bens_before
    assert len(bens_before) == 13


def test_her_events_keep_who_did_what_when_and_to_which_object(
    rosa: Contact, ben: Contact, manager: User, agent: User
) -> None:
    conversation = rosa.conversations.get()
    proposals = [
        str(pk) for pk in ProposedAction.objects.filter(subject_id=str(rosa.pk)).values_list("pk", flat=True)
    ]
    hers = _objects_of(rosa)
    before = [row for row in _log() if (row["object_type"], row["object_id"]) in hers]

    report = crm.erase_contact(contact=rosa, user=manager)

    after = {row["id"]: row for row in _log()}
    kept = ("at", "actor_user_id", "actor_label", "actor_automation", "action", "object_type", "object_id")
    assert [{k: after[row["id"]][k] for k in kept} for row in before] == [
        {k: row[k] for k in kept} for row in before
    ]
    assert [
        (
            row["action"],
            after[row["id"]]["object_repr"],
            after[row["id"]]["summary"],
            after[row["id"]]["changes"],
        )
        for row in before
    ] == [
        ("contact.create", f"contact #{rosa.pk} (erased)", "(erased)", {}),
        (
            "contact.update",
            f"contact #{rosa.pk} (erased)",
            "(erased)",
            {"email": "(erased)", "last_name": "(erased)", "phone": "(erased)", "tags": "(erased)"},
        ),
        ("contact.note", f"contact #{rosa.pk} (erased)", "(erased)", {}),
        ("contact.tag", f"contact #{rosa.pk} (erased)", "(erased)", {}),
        ("inbox.conversation.start", f"conversation #{conversation.pk} (erased)", "", {}),
        ("inbox.reply", f"conversation #{conversation.pk} (erased)", "(erased)", {}),
        ("inbox.note", f"conversation #{conversation.pk} (erased)", "(erased)", {}),
        ("action.propose", f"proposedaction #{proposals[2]} (erased)", "(erased)", {}),
        ("contact.note", f"contact #{rosa.pk} (erased)", "(erased)", {}),
        ("action.execute", f"proposedaction #{proposals[2]} (erased)", "(erased)", {}),
        ("action.propose", f"proposedaction #{proposals[1]} (erased)", "(erased)", {}),
        ("action.reject", f"proposedaction #{proposals[1]} (erased)", "(erased)", {}),
        ("action.propose", f"proposedaction #{proposals[0]} (erased)", "(erased)", {}),
    ]
    assert report.rows["governance.audit_events_redacted"] == len(before) == 13
    # The erasure's own event comes after, untouched: it says that, when and by whom.
    erased = AuditEvent.objects.get(action="contact.erase")
    assert (erased.actor_user, erased.object_id, erased.changes) == (
        manager,
        str(rosa.pk),
        {"rows": report.rows},
    )


def test_the_preview_counts_the_same_rows_the_erasure_reports(
    rosa: Contact, ben: Contact, manager: User
) -> None:
    log_before = _log()
    preview = crm.erasure_preview(rosa)
    assert _log() == log_before  # a preview changes nothing

    report = crm.erase_contact(contact=rosa, user=manager)

    assert report.rows == preview.rows
    assert report.rows == {
        "crm.contacts": 1,
        "crm.decisions_anonymised": 0,
        "crm.notes": 2,  # hers and the automation's
        "crm.proposals_anonymised": 3,
        "crm.proposals_withdrawn": 1,
        "crm.tag_links": 2,
        "crm.timeline": 5,  # created, her note, the automation's, the tag, the reply
        "governance.audit_events_redacted": 13,
        "inbox.attachments": 0,
        "inbox.chat_visitors": 0,
        "inbox.conversations": 1,
        "inbox.csat_anonymised": 0,
        "inbox.decisions_anonymised": 0,
        "inbox.messages": 2,
        "inbox.order_updates": 0,
        "inbox.orders": 0,
        "inbox.proposals_anonymised": 0,
        "inbox.proposals_withdrawn": 0,
        "inbox.sent_mail_copies": 0,
        "inbox.sla_breaches": 0,
        "inbox.sla_notices": 0,
        "inbox.webhook_deliveries": 0,
        "workflows.decisions_anonymised": 0,
        "workflows.emails": 0,
        "workflows.emails_not_sent": 0,
        "workflows.events": 3,  # contact.created, her conversation's created and agent_replied
        "workflows.proposals_anonymised": 0,
        "workflows.proposals_withdrawn": 0,
        "workflows.runs": 0,
        "workflows.runs_cancelled": 0,
        "workflows.tasks": 0,
    }
    assert list(
        ProposedAction.objects.filter(status=ProposalStatus.PENDING).values_list("params", flat=True)
    ) == [{"contact_id": ben.pk, "tag_name": "loyal"}]


def test_the_log_refuses_other_changes_after_an_erasure(rosa: Contact, manager: User) -> None:
    crm.erase_contact(contact=rosa, user=manager)
    after = _log()
    event = AuditEvent.objects.filter(object_type="contact").order_by("pk").first()
    assert event is not None

    event.summary = "Created contact Rosa Diaz"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(summary="Created contact Rosa Diaz")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(object_type="contact").delete()

    assert _log() == after


def test_a_failed_erasure_leaves_the_log_as_it_was(rosa: Contact, manager: User, monkeypatch: Any) -> None:
    from heedful.crm import erasure

    def broken(contact: Contact, *, dry_run: bool, subjects: Any) -> dict[str, int]:
        raise RuntimeError("disk full")

    monkeypatch.setitem(erasure._erasers, "zz-broken", broken)
    before = _log()

    with pytest.raises(RuntimeError):
        crm.erase_contact(contact=rosa, user=manager)

    assert _log() == before


def test_the_log_page_and_api_show_the_redacted_events(
    rosa: Contact, manager: User, owner_client: Any, api_client_for: Any, owner: User
) -> None:
    crm.erase_contact(contact=rosa, user=manager)
    wanted = {"object_type": "contact", "object_id": str(rosa.pk)}

    page = owner_client.get("/trust/audit/", wanted)
    api = api_client_for(owner).get("/api/v1/audit-events/", wanted)

    html = page.content.decode()
    assert page.status_code == 200
    assert html.count(f'contact #{rosa.pk} (erased) <span class="muted">(contact {rosa.pk})</span>') == 6
    assert _mentions([html], ROSAS_DATA) == []
    assert api.status_code == 200
    rows = api.json()["results"]
    assert [(r["action"], r["object_repr"], r["summary"]) for r in rows][-2:] == [
        ("contact.update", f"contact #{rosa.pk} (erased)", "(erased)"),
        ("contact.create", f"contact #{rosa.pk} (erased)", "(erased)"),
    ]
    assert rows[-2]["changes"] == {
        "email": "(erased)",
        "last_name": "(erased)",
        "phone": "(erased)",
        "tags": "(erased)",
    }
    assert _mentions(rows, ROSAS_DATA) == []
