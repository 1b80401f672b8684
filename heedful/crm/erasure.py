"""Erasing a person on request (promise 4, C25): the contact and what every app holds about them.

The CRM owns the contact, but the inbox (and later other apps) hold more about the same person:
conversations matched only by email address, orders, chat visitors. Each such app registers an
*eraser* in its ``AppConfig.ready()``; ``erase_contact`` runs them all in one transaction, so an
erasure is all or nothing, then deletes the contact (its notes and append-only timeline go with
it through the cascade) and audits the counts, never the erased data.

The audit log keeps no more of the person than the rest: the events about the contact, and
about what the erasers and ``forget_subjects`` remove or anonymise (conversations, orders,
workflow runs, decisions, proposals), lose their names, summaries and changed values through
``governance.services.redact_audit_events``, counted as ``governance.audit_events_redacted``.
Nor do the decisions and proposals about any of those objects: ``forget_subjects`` scrubs their
texts and payloads (``governance.services.scrub_decisions_and_proposals``) and keeps which
automation decided, with what confidence, when, what status it came to and who approved it.

An eraser is ``eraser(contact, dry_run=..., subjects=...) -> {"app.kind": rows}``: with
``dry_run`` it only counts (the confirmation page shows what will go), otherwise it removes or
anonymises and returns the same counts. ``subjects`` is ``subjects_of(contact)``, every object
the apps found about the person before anything was erased. Counts of the same kind from
several apps add up (each app redacts the audit events about its own objects under
``AUDIT_EVENTS_REDACTED``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from heedful.crm.models import Contact, Note, TimelineEntry
from heedful.governance.models import DecisionRecord, ProposalStatus, ProposedAction
from heedful.governance.services import (
    Scrubbed,
    record_audit,
    redact_audit_events,
    scrub_decisions_and_proposals,
    scrub_records,
)

if TYPE_CHECKING:
    from heedful.accounts.models import User

Eraser = Callable[..., dict[str, int]]
SubjectFinder = Callable[[Contact], Mapping[str, Sequence[str | int]]]

ERASED_LABEL = "(erased)"
AUDIT_EVENTS_REDACTED = "governance.audit_events_redacted"


def forget_subjects(
    *, subject_type: str, subject_ids: Sequence[str | int], app: str, dry_run: bool = False
) -> dict[str, int]:
    """Take a person off the decisions and proposals about them, for an erasure.

    The records stay (which automation decided, with what confidence, when, what became of it
    and who approved it is not personal), but everything they say about the person goes:
    ``governance.services.scrub_decisions_and_proposals`` turns their label, texts and payloads
    into ``"(erased)"``, and the audit events about them (a proposal's description, "Email
    rosa@…", a reason for rejecting it) are redacted. Proposals still waiting for a person are
    withdrawn: nobody should approve an action about someone erased. Returns rows changed
    (``dry_run``: that would change) per kind, under ``app`` (``"crm.decisions_anonymised"``,
    ``"crm.proposals_anonymised"``, ``"crm.proposals_withdrawn"``) and ``AUDIT_EVENTS_REDACTED``.
    """
    ids = [str(i) for i in subject_ids]
    about = {"subject_type": subject_type, "subject_id__in": ids}
    return _forget(
        list(DecisionRecord.objects.filter(**about).values_list("pk", flat=True)),
        list(ProposedAction.objects.filter(**about).values_list("pk", flat=True)),
        lambda: scrub_decisions_and_proposals(subject_type=subject_type, subject_ids=ids, dry_run=dry_run),
        app=app,
        dry_run=dry_run,
    )


def forget_records(
    *, decision_ids: Sequence[int], proposal_ids: Sequence[int], app: str, dry_run: bool = False
) -> dict[str, int]:
    """``forget_subjects`` for these decisions and proposals only, whatever they are about.

    For records that named the person about an object that is not theirs (a workflow run that
    an event naming her started about a company): the object's other records stay as they are.
    """
    decisions, proposals = sorted(set(decision_ids)), sorted(set(proposal_ids))
    return _forget(
        decisions,
        proposals,
        lambda: scrub_records(decision_ids=decisions, proposal_ids=proposals, dry_run=dry_run),
        app=app,
        dry_run=dry_run,
    )


def _forget(
    decisions: list[int], proposals: list[int], scrub: Callable[[], Scrubbed], *, app: str, dry_run: bool
) -> dict[str, int]:
    redacted = sum(
        redact_audit_events(object_type=model._meta.model_name or "", object_ids=pks, dry_run=dry_run)
        for model, pks in ((DecisionRecord, decisions), (ProposedAction, proposals))
    )
    # Counted before anything changes, so that the preview (dry_run) counts the same.
    pending = [
        pk
        for start in range(0, len(proposals), 500)  # SQLite caps the parameters of one statement
        for pk in ProposedAction.objects.filter(
            pk__in=proposals[start : start + 500], status=ProposalStatus.PENDING
        ).values_list("pk", flat=True)
    ]
    scrubbed = scrub()
    if not dry_run:
        # After the scrub, so that the reason given here is the one left.
        for start in range(0, len(pending), 500):
            ProposedAction.objects.filter(pk__in=pending[start : start + 500]).update(
                status=ProposalStatus.REJECTED,
                decided_at=timezone.now(),
                decision_reason="The person it was about was erased.",
            )
    return {
        f"{app}.decisions_anonymised": scrubbed.decisions,
        f"{app}.proposals_anonymised": scrubbed.proposals,
        f"{app}.proposals_withdrawn": len(pending),
        AUDIT_EVENTS_REDACTED: redacted,
    }


_erasers: dict[str, Eraser] = {}
_finders: dict[str, SubjectFinder] = {}


def register_eraser(name: str, eraser: Eraser, *, finds: SubjectFinder | None = None) -> None:
    """Let ``erase_contact`` reach what app ``name`` holds about a person; registering again replaces.

    ``finds(contact)`` names the app's objects that are about the person, ``{type: ids}`` (the
    inbox: their conversations and orders), so that every eraser can reach what other apps
    hold about those objects (the workflow events about a conversation) and the decisions,
    proposals and audit events about them are scrubbed.
    """
    _erasers[name] = eraser
    if finds is None:
        _finders.pop(name, None)
    else:
        _finders[name] = finds


def subjects_of(contact: Contact) -> dict[str, list[str]]:
    """Every object the apps hold about the person, ``{type: sorted ids}``, the contact included.

    Found before anything is erased: one app's eraser may delete what another's must still find
    (the inbox deletes the conversations whose workflow events the workflows eraser empties).
    """
    found: dict[str, set[str]] = {"contact": {str(contact.pk)}}
    for name in sorted(_finders):
        for kind, ids in _finders[name](contact).items():
            found.setdefault(kind, set()).update(str(i) for i in ids)
    return {kind: sorted(ids) for kind, ids in sorted(found.items())}


@dataclass(frozen=True)
class ErasureReport:
    """Rows removed or anonymised per kind, e.g. ``{"inbox.conversations": 3, "crm.timeline": 12}``."""

    contact_id: int
    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _crm_rows(contact: Contact) -> dict[str, int]:
    return {
        "crm.contacts": 1,
        "crm.notes": Note.objects.filter(contact=contact).count(),
        "crm.timeline": TimelineEntry.objects.filter(contact=contact).count(),
        "crm.tag_links": Contact.tags.through.objects.filter(contact_id=contact.pk).count(),
    }


def add_counts(rows: dict[str, int], more: Mapping[str, int]) -> None:
    """Add ``more`` to ``rows``, kind by kind: several apps, or several subjects of one app,
    count under the same kind (the audit events each one redacts)."""
    for kind, n in more.items():
        rows[kind] = rows.get(kind, 0) + n


def _erase_or_count(contact: Contact, *, dry_run: bool) -> dict[str, int]:
    """Everything but deleting the contact, so that the preview counts what the erasure does."""
    rows: dict[str, int] = {}
    subjects = subjects_of(contact)
    for name in sorted(_erasers):
        add_counts(rows, _erasers[name](contact, dry_run=dry_run, subjects=subjects))
    add_counts(rows, _crm_rows(contact))
    add_counts(
        rows, forget_subjects(subject_type="contact", subject_ids=[contact.pk], app="crm", dry_run=dry_run)
    )
    # "Created contact Rosa Diaz", her note's text, her old and new address.
    audited = redact_audit_events(object_type="contact", object_ids=[contact.pk], dry_run=dry_run)
    add_counts(rows, {AUDIT_EVENTS_REDACTED: audited})
    return dict(sorted(rows.items()))


def erasure_preview(contact: Contact) -> ErasureReport:
    """What ``erase_contact`` would remove or anonymise, counted; nothing changes."""
    return ErasureReport(contact_id=contact.pk, rows=_erase_or_count(contact, dry_run=True))


@transaction.atomic
def erase_contact(*, contact: Contact, user: User | None = None, automation: str = "") -> ErasureReport:
    """Erase the person: every registered app's data about them, then the contact itself.

    Irreversible by design. The audit event names the contact only by id and lists the row
    counts, so the log proves the erasure happened without keeping what was erased; the
    earlier events about the person stay, redacted: who did what, when, to which record, but
    not what they said about the person.
    """
    contact_id = contact.pk
    # Two erasures of the same person (a double submit) queue on this lock; the second finds
    # nothing. A message from the address arriving in the same moment may still land after the
    # erasure, as a new conversation (and contact): erasing again removes it.
    contact = Contact.objects.select_for_update().get(pk=contact_id)
    rows = _erase_or_count(contact, dry_run=False)
    contact.delete()
    # Written after the redaction, so this event (already without the person) keeps its counts.
    record_audit(
        action="contact.erase",
        user=user,
        automation=automation,
        object_type="contact",
        object_id=str(contact_id),
        object_repr=f"contact #{contact_id} (erased)",
        summary=f"Erased contact #{contact_id} and what was held about them ({sum(rows.values())} rows)",
        changes={"rows": rows},
    )
    return ErasureReport(contact_id=contact_id, rows=rows)
