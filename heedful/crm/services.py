"""Writes for contacts and their timeline: the contract other apps call.

Every function takes keyword arguments, runs in one transaction and names its actor:
a ``user`` when a person acts, an ``automation`` label ("inbox", "rule:vip") otherwise.
Bad input raises ``django.core.exceptions.ValidationError``, keyed by field where it can
be, so forms and the API show the message beside the right input.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from heedful.crm.erasure import ErasureReport, erase_contact, erasure_preview
from heedful.crm.importing import ImportReport, ParsedRow, export_contacts_csv, run_import
from heedful.crm.models import Company, Contact, Note, Tag, TimelineEntry, TimelineKind
from heedful.governance.services import Subject, record_audit
from heedful.workflows.events import emit_event, emit_events, was_emitted

if TYPE_CHECKING:
    from heedful.accounts.models import User

__all__ = [
    "ErasureReport",
    "ImportReport",
    "add_note",
    "add_timeline_entry",
    "capture_lead",
    "create_company",
    "create_contact",
    "erase_contact",
    "erasure_preview",
    "event_contact",
    "export_contacts_csv",
    "find_or_create_contact_by_email",
    "import_contacts_csv",
    "mark_customer_onboarded",
    "normalise_email",
    "start_contact_export",
    "tag_contact",
    "untag_contact",
    "update_contact",
]

BATCH = 500
UPDATED_ON_IMPORT = ("first_name", "last_name", "phone", "postcode", "company", "attributes")

# Fields update_contact() may change; everything else about a contact has its own verb.
UPDATABLE_FIELDS = frozenset(
    {"email", "first_name", "last_name", "phone", "company_name", "postcode", "attributes", "tags", "source"}
)


def normalise_email(email: str) -> str:
    """``" Ana@Example.COM "`` → ``"ana@example.com"``.

    The whole address is lower-cased: mail providers treat the local part
    case-insensitively in practice, and one person must not become two contacts.
    """
    return email.strip().lower()


def event_contact(contact: Contact) -> dict[str, Any]:
    """A contact as workflow events carry it (the ``contact`` key in workflows/catalogue.py)."""
    return {"id": contact.pk, "email": contact.email, "first_name": contact.first_name}


def _about(contact: Contact) -> Subject:
    return Subject.of(contact, "contact")


def _checked_email(email: str, *, required: bool = False) -> str:
    email = normalise_email(email)
    if not email:
        if required:
            raise ValidationError({"email": _("An email address is required.")})
        return ""
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            {"email": _("“%(email)s” is not a valid email address.") % {"email": email}}
        ) from None
    return email


def _check_lengths(model: type[Contact] | type[Company], values: Mapping[str, Any]) -> None:
    errors: dict[str, str] = {}
    for name, value in values.items():
        max_length = getattr(model._meta.get_field(name), "max_length", None)
        if max_length and isinstance(value, str) and len(value) > max_length:
            errors[name] = _("At most %(max)d characters (this has %(len)d).") % {
                "max": max_length,
                "len": len(value),
            }
    if errors:
        raise ValidationError(errors)


def _company_named(name: str) -> Company | None:
    name = name.strip()
    if not name:
        return None
    if len(name) > 200:
        raise ValidationError({"company_name": _("At most 200 characters (this has %d).") % len(name)})
    company = Company.objects.filter(name__iexact=name).first()
    return company or Company.objects.create(name=name)


def _email_taken(email: str, exclude_pk: int | None = None) -> bool:
    others = Contact.objects.filter(email__iexact=email)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return bool(email) and others.exists()


def _tags_named(names: Iterable[str]) -> list[Tag]:
    """The tags with these names, matched case-insensitively and created when new."""
    clean = sorted({n.strip() for n in names if n.strip()})
    max_length = Tag._meta.get_field("name").max_length or 50
    too_long = [n for n in clean if len(n) > max_length]
    if too_long:
        raise ValidationError(
            {
                "tags": _("Tag names have at most %(max)d characters: %(name)s")
                % {"max": max_length, "name": too_long[0]}
            }
        )
    if not clean:
        return []
    matches = Tag.objects.filter(reduce(operator.or_, (Q(name__iexact=n) for n in clean)))
    existing = {t.name.lower(): t for t in matches}
    return [existing.get(n.lower()) or Tag.objects.create(name=n) for n in clean]


@transaction.atomic
def create_contact(
    *,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    company_name: str = "",
    postcode: str = "",
    attributes: Mapping[str, Any] | None = None,
    tags: Iterable[str] = (),
    user: User | None = None,
    automation: str = "",
    source: str = "manual",
) -> Contact:
    """Create a contact, with an audit event and a first timeline entry.

    Raises ValidationError when the email is invalid or already belongs to a contact.
    """
    email = _checked_email(email)
    fields = {
        "email": email,
        "first_name": first_name.strip(),
        "last_name": last_name.strip(),
        "phone": phone.strip(),
        "postcode": postcode.strip(),
        "source": source,
    }
    _check_lengths(Contact, fields)
    if _email_taken(email):
        raise ValidationError(
            {"email": _("Another contact already has the email %(email)s.") % {"email": email}}
        )
    contact = Contact.objects.create(
        company=_company_named(company_name), attributes=dict(attributes or {}), **fields
    )
    tag_objs = _tags_named(tags)
    if tag_objs:
        contact.tags.add(*tag_objs)
    record_audit(
        action="contact.create",
        user=user,
        automation=automation,
        obj=contact,
        summary=f"Created contact {contact} (source: {source})",
    )
    _append(
        contact, TimelineKind.SYSTEM, _("Contact created"), source="crm", user=user, automation=automation
    )
    emit_event(
        "contact.created",
        {"contact": event_contact(contact), "source": source},
        _about(contact),
        source=automation or "crm",
    )
    return contact


@transaction.atomic
def update_contact(
    contact: Contact, *, user: User | None = None, automation: str = "", **fields: Any
) -> Contact:
    """Change some of a contact's fields; audits each change as ``{field: [old, new]}``.

    ``company_name`` links (or creates) the company by name; ``tags`` replaces the tag set.
    Changing nothing writes nothing.
    """
    unknown = sorted(set(fields) - UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError(_("These fields cannot be changed here: %s") % ", ".join(unknown))
    changes: dict[str, list[Any]] = {}
    if "email" in fields:
        fields["email"] = _checked_email(fields["email"])
        if fields["email"] != contact.email and _email_taken(fields["email"], exclude_pk=contact.pk):
            raise ValidationError({"email": _("Another contact already has the email %(email)s.") % fields})
    if "company_name" in fields:
        before = contact.company.name if contact.company else ""
        company = _company_named(fields.pop("company_name"))
        after = company.name if company else ""
        if before != after:
            contact.company = company
            changes["company"] = [before, after]
    if "tags" in fields:
        changes.update(_replace_tags(contact, fields.pop("tags")))
    plain = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}
    _check_lengths(Contact, plain)
    for name, value in plain.items():
        if getattr(contact, name) != value:
            changes[name] = [getattr(contact, name), value]
            setattr(contact, name, value)
    if not changes:
        return contact
    row_fields = [f for f in changes if f != "tags"]
    if row_fields:
        contact.save(update_fields=[*row_fields, "updated_at"])
    record_audit(
        action="contact.update",
        user=user,
        automation=automation,
        obj=contact,
        summary=f"Changed {', '.join(sorted(changes))} of {contact}",
        changes=changes,
    )
    return contact


def _replace_tags(contact: Contact, names: Iterable[str]) -> dict[str, list[Any]]:
    wanted = _tags_named(names)
    before = sorted(t.name for t in contact.tags.all())
    after = sorted(t.name for t in wanted)
    if before == after:
        return {}
    contact.tags.set(wanted)
    return {"tags": [before, after]}


@transaction.atomic
def find_or_create_contact_by_email(
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    name: str = "",
    phone: str = "",
    company_name: str = "",
    source: str = "",
    user: User | None = None,
    automation: str = "",
) -> tuple[Contact, bool]:
    """The contact with this email (case-insensitive), created from the details when new.

    ``name`` ("Ana Lopez", as an email's From header gives it) fills first and last name
    when those are not given. An existing contact is returned unchanged.
    """
    email = _checked_email(email, required=True)
    existing = Contact.objects.filter(email=email).first()
    if existing is not None:
        return existing, False
    if name and not (first_name or last_name):
        first_name, _sep, last_name = name.strip().partition(" ")
    try:
        # A savepoint: two messages from a new address can arrive at once; the loser
        # of the race on the unique email reads the winner's row.
        with transaction.atomic():
            contact = create_contact(
                email=email,
                first_name=first_name,
                last_name=last_name,
                phone=phone,
                company_name=company_name,
                user=user,
                automation=automation,
                source=source or automation or "manual",
            )
    except (IntegrityError, ValidationError) as exc:
        winner = Contact.objects.filter(email=email).first()
        if winner is None:
            raise exc from None
        return winner, False
    return contact, True


def _append(
    contact: Contact,
    kind: str,
    title: str,
    *,
    body: str = "",
    data: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
    source: str = "",
    user: User | None = None,
    automation: str = "",
    ref_type: str = "",
    ref_id: str = "",
) -> TimelineEntry:
    return TimelineEntry.objects.create(
        contact=contact,
        kind=kind,
        title=title[:200],
        body=body,
        data=dict(data or {}),
        occurred_at=occurred_at or timezone.now(),
        source=source,
        actor_user=user,
        actor_automation=automation,
        ref_type=ref_type,
        ref_id=ref_id,
    )


@transaction.atomic
def add_timeline_entry(
    *,
    contact: Contact,
    kind: str,
    title: str,
    body: str = "",
    data: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
    source: str = "",
    user: User | None = None,
    automation: str = "",
    ref_type: str = "",
    ref_id: str | int = "",
) -> TimelineEntry:
    """Append one touchpoint to the contact's timeline.

    ``kind`` is one of ``TimelineKind``; ``occurred_at`` defaults to now and may lie in
    the past (an imported order). Not audited separately: the entry is itself an
    append-only record naming its actor, and the inbox writes one per message.
    """
    if kind not in TimelineKind.values:
        raise ValidationError({"kind": _("Unknown timeline kind %(kind)r.") % {"kind": kind}})
    if not title.strip():
        raise ValidationError({"title": _("A timeline entry needs a title.")})
    if occurred_at is not None and timezone.is_naive(occurred_at):
        raise ValidationError({"occurred_at": _("The time needs a time zone.")})
    return _append(
        contact,
        kind,
        title.strip(),
        body=body,
        data=data,
        occurred_at=occurred_at,
        source=source[:50],
        user=user,
        automation=automation[:200],
        ref_type=ref_type[:50],
        ref_id=str(ref_id)[:64],
    )


def add_timeline_entries(entries: Iterable[Mapping[str, Any]]) -> list[TimelineEntry]:
    """``add_timeline_entry(**entry)`` for each entry, in one INSERT (a workflow campaign's emails).

    Each entry takes ``add_timeline_entry``'s keywords and is checked the same way, all of
    them before any is written.
    """
    rows = []
    for entry in entries:
        kind, title, occurred_at = entry["kind"], str(entry["title"]).strip(), entry.get("occurred_at")
        if kind not in TimelineKind.values:
            raise ValidationError({"kind": _("Unknown timeline kind %(kind)r.") % {"kind": kind}})
        if not title:
            raise ValidationError({"title": _("A timeline entry needs a title.")})
        if occurred_at is not None and timezone.is_naive(occurred_at):
            raise ValidationError({"occurred_at": _("The time needs a time zone.")})
        rows.append(
            TimelineEntry(
                contact=entry["contact"],
                kind=kind,
                title=title[:200],
                body=entry.get("body", ""),
                data=dict(entry.get("data") or {}),
                occurred_at=occurred_at or timezone.now(),
                source=str(entry.get("source", ""))[:50],
                actor_user=entry.get("user"),
                actor_automation=str(entry.get("automation", ""))[:200],
                ref_type=str(entry.get("ref_type", ""))[:50],
                ref_id=str(entry.get("ref_id", ""))[:64],
            )
        )
    return TimelineEntry.objects.bulk_create(rows)


@transaction.atomic
def add_note(
    *, contact: Contact, user: User | None, body: str, automation: str = "", origin: str = ""
) -> Note:
    """Add an internal note; it also appears on the timeline.

    ``origin`` ("proposal:42") makes the call idempotent: a second call with the same
    origin returns the first note.
    """
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("The note is empty.")})
    if origin:
        earlier = Note.objects.filter(contact=contact, origin=origin).first()
        if earlier is not None:
            return earlier
    note = Note.objects.create(contact=contact, author=user, automation=automation, origin=origin, body=body)
    _append(
        contact,
        TimelineKind.NOTE,
        _("Note"),
        body=body,
        source="crm",
        user=user,
        automation=automation,
        ref_type="note",
        ref_id=str(note.pk),
    )
    record_audit(action="contact.note", user=user, automation=automation, obj=contact, summary=body[:200])
    return note


@dataclass(frozen=True)
class Lead:
    """A captured lead: the contact, and the timeline entry that records the capture (its id)."""

    contact: Contact
    id: int
    source: str
    score: int | None


@transaction.atomic
def capture_lead(
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    company_name: str = "",
    source: str = "web_form",
    score: int | None = None,
    user: User | None = None,
    automation: str = "",
) -> Lead:
    """Record that someone showed interest (a form, the API); emits ``lead.created``.

    The person becomes (or already is) a contact; the capture is a "lead" entry on their
    timeline, whose id is the lead's id until leads get a model of their own (C6). A
    contact can be captured again later (another form): each capture is a new lead.
    """
    if score is not None and not 0 <= score <= 100:
        raise ValidationError({"score": _("A lead score is from 0 to 100.")})
    contact, _created = find_or_create_contact_by_email(
        email=email,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        company_name=company_name,
        source=source,
        user=user,
        automation=automation,
    )
    entry = _append(
        contact,
        TimelineKind.LEAD,
        _("Lead captured (%(source)s)") % {"source": source},
        data={"source": source, "score": score},
        source="crm",
        user=user,
        automation=automation,
    )
    emit_event(
        "lead.created",
        {"contact": event_contact(contact), "lead": {"id": entry.pk, "source": source, "score": score}},
        _about(contact),
        source=automation or "crm",
    )
    return Lead(contact=contact, id=entry.pk, source=source, score=score)


@transaction.atomic
def mark_customer_onboarded(
    *, contact: Contact, reason: str, source: str = "", user: User | None = None, automation: str = ""
) -> bool:
    """The contact became a customer (first order, signed contract); emits ``customer.onboarded``.

    Once per contact, ever: True the first time, False (and nothing written) after.
    """
    key = f"customer.onboarded:{contact.pk}"
    if was_emitted(key):
        return False
    _append(
        contact,
        TimelineKind.SYSTEM,
        _("Became a customer: %(reason)s") % {"reason": reason},
        source="crm",
        user=user,
        automation=automation,
    )
    emit_event(
        "customer.onboarded",
        {"contact": event_contact(contact), "reason": reason, "source": source},
        _about(contact),
        source=automation or "crm",
        idempotency_key=key,
    )
    return True


@transaction.atomic
def tag_contact(*, contact: Contact, tag_name: str, user: User | None = None, automation: str = "") -> bool:
    """Tag the contact (creating the tag when new); True if it was not tagged before."""
    tags = _tags_named([tag_name])
    if not tags:
        raise ValidationError({"tag_name": _("The tag name is empty.")})
    tag = tags[0]
    if contact.tags.filter(pk=tag.pk).exists():
        return False
    contact.tags.add(tag)
    record_audit(
        action="contact.tag", user=user, automation=automation, obj=contact, summary=f"Tagged {tag.name}"
    )
    _append(
        contact,
        TimelineKind.SYSTEM,
        _("Tagged “%s”") % tag.name,
        source="crm",
        user=user,
        automation=automation,
    )
    return True


@transaction.atomic
def untag_contact(*, contact: Contact, tag_name: str, user: User | None = None, automation: str = "") -> bool:
    """Remove the tag from the contact; True if it had it."""
    tag = Tag.objects.filter(name__iexact=tag_name.strip()).first()
    if tag is None or not contact.tags.filter(pk=tag.pk).exists():
        return False
    contact.tags.remove(tag)
    record_audit(
        action="contact.untag", user=user, automation=automation, obj=contact, summary=f"Untagged {tag.name}"
    )
    _append(
        contact,
        TimelineKind.SYSTEM,
        _("Tag “%s” removed") % tag.name,
        source="crm",
        user=user,
        automation=automation,
    )
    return True


@transaction.atomic
def create_company(
    *,
    name: str,
    domain: str = "",
    attributes: Mapping[str, Any] | None = None,
    user: User | None = None,
    automation: str = "",
) -> Company:
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("A company needs a name.")})
    _check_lengths(Company, {"name": name, "domain": domain})
    if Company.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": _("A company named %(name)s exists already.") % {"name": name}})
    company = Company.objects.create(
        name=name, domain=domain.strip().lower(), attributes=dict(attributes or {})
    )
    record_audit(action="company.create", user=user, automation=automation, obj=company, summary=name)
    return company


def start_contact_export(*, queryset: QuerySet[Contact], user: User) -> Iterator[str]:
    """Audit that ``user`` exported these contacts, and return the CSV lines to stream."""
    count = queryset.count()
    record_audit(
        action="contact.export",
        user=user,
        object_type="contact",
        summary=f"Exported {count} contacts as CSV",
        changes={"count": count},
    )
    return export_contacts_csv(queryset)


@transaction.atomic
def import_contacts_csv(*, file: Any, user: User, all_or_nothing: bool) -> ImportReport:
    """Import (upsert by email) contacts from a CSV file; see ``heedful.crm.importing``.

    With ``all_or_nothing`` a file with any bad row writes nothing; otherwise the good rows
    are imported. Either way the report lists every bad row with its line and column.
    """
    report = run_import(
        file, all_or_nothing=all_or_nothing, write_rows=lambda rows: _write_import_rows(rows, user=user)
    )
    record_audit(
        action="contact.import",
        user=user,
        summary=report.summary,
        changes={
            "created": report.created,
            "updated": report.updated,
            "rejected_rows": len(report.bad_lines),
            "all_or_nothing": all_or_nothing,
        },
    )
    return report


def _write_import_rows(rows: list[ParsedRow], *, user: User) -> tuple[int, int]:
    """Upsert the checked rows in batches; returns (created, updated).

    Batched because an import may hold 50,000 rows: a handful of queries per 500 rows
    rather than several per row keeps a big file inside a web request's patience.
    """
    now = timezone.now()
    companies = _companies_by_lower_name({r.company for r in rows if r.company})
    tags = {t.name.lower(): t for t in _tags_named({name for r in rows for name in r.tags})}
    existing = _contacts_by_email([r.email for r in rows])
    new = [r for r in rows if r.email not in existing]
    Contact.objects.bulk_create(
        [
            Contact(
                email=r.email,
                company=companies.get(r.company.lower()),
                attributes=r.attributes,
                source="csv",
                created_at=now,
                updated_at=now,
                **r.fields,
            )
            for r in new
        ],
        batch_size=BATCH,
    )
    existing_rows = [r for r in rows if r.email in existing]
    for r in existing_rows:
        contact = existing[r.email]
        for name, value in r.fields.items():
            setattr(contact, name, value)
        if r.company:
            contact.company = companies[r.company.lower()]
        contact.attributes = {**contact.attributes, **r.attributes}
        contact.updated_at = now
    # One plain UPDATE per row: bulk_update's CASE-per-column SQL measured twice as slow here
    # (16 s against 8 s for 5,000 rows on SQLite).
    for r in existing_rows:
        contact = existing[r.email]
        Contact.objects.filter(pk=contact.pk).update(
            **{name: getattr(contact, name) for name in UPDATED_ON_IMPORT}, updated_at=now
        )
    by_email = {**existing, **_contacts_by_email([r.email for r in new])}
    emit_events(
        "contact.created",
        (
            ({"contact": event_contact(by_email[r.email]), "source": "csv"}, _about(by_email[r.email]))
            for r in new
        ),
        source="crm.import",
    )
    links = [
        Contact.tags.through(contact_id=by_email[r.email].pk, tag_id=tags[name.lower()].pk)
        for r in rows
        for name in r.tags
    ]
    Contact.tags.through.objects.bulk_create(links, batch_size=BATCH, ignore_conflicts=True)
    titles = {True: _("Imported from CSV"), False: _("Updated from CSV")}
    TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                contact=by_email[r.email],
                kind=TimelineKind.SYSTEM,
                title=titles[r.email not in existing],
                data={"line": r.line},
                source="crm",
                actor_user=user,
                occurred_at=now,
                recorded_at=now,
            )
            for r in rows
        ],
        batch_size=BATCH,
    )
    return len(new), len(existing_rows)


def _companies_by_lower_name(names: set[str]) -> dict[str, Company]:
    wanted = {n.lower(): n for n in sorted(names)}
    found: dict[str, Company] = {}
    for chunk in _chunks(sorted(wanted)):
        found.update(
            {
                c.name.lower(): c
                for c in Company.objects.filter(reduce(operator.or_, (Q(name__iexact=n) for n in chunk)))
            }
        )
    for lower, name in wanted.items():
        if lower not in found:
            found[lower] = Company.objects.create(name=name)
    return found


def _contacts_by_email(emails: list[str]) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    for chunk in _chunks(emails):
        found.update({c.email: c for c in Contact.objects.filter(email__in=chunk)})
    return found


def _chunks(items: list[str]) -> Iterator[list[str]]:
    # Batches stay under SQLite's limit on query parameters.
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
