"""Erasing a person on request (promise 4, C25): the contact and what every app holds about them.

The CRM owns the contact, but the inbox (and later other apps) hold more about the same person:
conversations matched only by email address, orders, chat visitors. Each such app registers an
*eraser* in its ``AppConfig.ready()``; ``erase_contact`` runs them all in one transaction, so an
erasure is all or nothing, then deletes the contact (its notes and append-only timeline go with
it through the cascade) and audits the counts, never the erased data.

An eraser is ``eraser(contact, dry_run=...) -> {"app.kind": rows}``: with ``dry_run`` it only
counts (the confirmation page shows what will go), otherwise it removes or anonymises and
returns the same counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from heedful.crm.models import Contact, Note, TimelineEntry
from heedful.governance.models import DecisionRecord, ProposalStatus, ProposedAction
from heedful.governance.services import record_audit

if TYPE_CHECKING:
    from heedful.accounts.models import User

Eraser = Callable[..., dict[str, int]]

ERASED_LABEL = "(erased)"


def forget_subjects(*, subject_type: str, subject_ids: Sequence[str | int]) -> dict[str, int]:
    """Take a person's name off the decisions and proposals about them, for an erasure.

    The records stay (what was decided, with what confidence, is not personal), but their
    ``subject_label`` — a name or an email address — becomes ``"(erased)"``. Proposals still
    waiting for a person are withdrawn: nobody should approve an action about someone erased.
    Returns rows changed per kind (``decisions_anonymised``, ``proposals_anonymised``,
    ``proposals_withdrawn``).
    """
    ids = [str(i) for i in subject_ids]
    if not ids:
        return {"decisions_anonymised": 0, "proposals_anonymised": 0, "proposals_withdrawn": 0}
    about = {"subject_type": subject_type, "subject_id__in": ids}
    withdrawn = ProposedAction.objects.filter(**about, status=ProposalStatus.PENDING).update(
        status=ProposalStatus.REJECTED,
        decided_at=timezone.now(),
        decision_reason="The person it was about was erased.",
    )
    return {
        "decisions_anonymised": DecisionRecord.objects.filter(**about).update(subject_label=ERASED_LABEL),
        "proposals_anonymised": ProposedAction.objects.filter(**about).update(subject_label=ERASED_LABEL),
        "proposals_withdrawn": withdrawn,
    }


_erasers: dict[str, Eraser] = {}


def register_eraser(name: str, eraser: Eraser) -> None:
    """Let ``erase_contact`` reach what app ``name`` holds about a person; registering again replaces."""
    _erasers[name] = eraser


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


def erasure_preview(contact: Contact) -> ErasureReport:
    """What ``erase_contact`` would remove or anonymise, counted; nothing changes."""
    rows = {}
    for name in sorted(_erasers):
        rows.update(_erasers[name](contact, dry_run=True))
    rows.update(_crm_rows(contact))
    return ErasureReport(contact_id=contact.pk, rows=rows)


@transaction.atomic
def erase_contact(*, contact: Contact, user: User | None = None, automation: str = "") -> ErasureReport:
    """Erase the person: every registered app's data about them, then the contact itself.

    Irreversible by design. The audit event names the contact only by id and lists the row
    counts, so the log proves the erasure happened without keeping what was erased.
    """
    contact_id = contact.pk
    # Two erasures of the same person (a double submit) queue on this lock; the second finds
    # nothing. A message from the address arriving in the same moment may still land after the
    # erasure, as a new conversation (and contact): erasing again removes it.
    contact = Contact.objects.select_for_update().get(pk=contact_id)
    rows: dict[str, int] = {}
    for name in sorted(_erasers):
        rows.update(_erasers[name](contact, dry_run=False))
    rows.update(_crm_rows(contact))
    forgotten = forget_subjects(subject_type="contact", subject_ids=[contact_id])
    rows.update({f"crm.{kind}": n for kind, n in forgotten.items()})
    contact.delete()
    record_audit(
        action="contact.erase",
        user=user,
        automation=automation,
        object_type="contact",
        object_id=str(contact_id),
        object_repr=f"contact #{contact_id} (erased)",
        summary=f"Erased contact #{contact_id} and what was held about them ({sum(rows.values())} rows)",
        changes={"rows": dict(sorted(rows.items()))},
    )
    return ErasureReport(contact_id=contact_id, rows=dict(sorted(rows.items())))
