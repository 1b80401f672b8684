"""What workflows need from the crm app, in one place, tolerant of crm not being there yet.

Workflows read a contact's fields for personalisation and add timeline entries; the
crm app owns both. Everything here degrades to "no contact data" / "no timeline entry"
when crm has no ``Contact`` model or no ``add_timeline_entry`` service, so the engine
and its tests run on their own.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import models

log = logging.getLogger(__name__)

_PLAIN = (str, int, float, bool, type(None))


def _contact_model() -> type[models.Model] | None:
    try:
        return apps.get_model("crm", "Contact")
    except LookupError:
        return None


def get_contact(contact_id: Any) -> models.Model | None:
    model = _contact_model()
    if model is None or contact_id in (None, ""):
        return None
    try:
        return model._default_manager.filter(pk=contact_id).first()
    except (ValueError, TypeError):
        return None


def get_contacts(contact_ids: Iterable[Any]) -> dict[str, models.Model]:
    """The contacts that exist among ``contact_ids``, by id as text, in one query."""
    model = _contact_model()
    wanted = {str(i) for i in contact_ids if i not in (None, "")}
    # Subject ids are text; only whole numbers can be a contact's key.
    keys = [int(i) for i in wanted if i.isdigit()]
    if model is None or not keys:
        return {}
    return {str(c.pk): c for c in model._default_manager.filter(pk__in=keys)}


def contact_context(contact_id: Any) -> dict[str, Any]:
    """The contact's plain fields (email, first_name, …) for conditions and email tokens."""
    contact = get_contact(contact_id)
    return {} if contact is None else _plain_fields(contact)


def contact_contexts(contact_ids: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """``contact_context`` for many, in one query; ids with no contact are absent."""
    return {key: _plain_fields(contact) for key, contact in get_contacts(contact_ids).items()}


def _plain_fields(contact: models.Model) -> dict[str, Any]:
    data: dict[str, Any] = {"id": contact.pk}
    for field in contact._meta.concrete_fields:
        if field.is_relation or field.name in {"id", "password"}:
            continue
        value = getattr(contact, field.attname)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        if isinstance(value, _PLAIN) or (isinstance(value, dict | list) and field.name != "password"):
            data[field.name] = value
    for extra in ("full_name", "display_name"):
        value = getattr(contact, extra, None)
        if isinstance(value, str):
            data[extra] = value
    return data


def add_timeline_entry(*, contact_id: Any, kind: str, title: str, body: str = "", **extra: Any) -> bool:
    """Add an entry to the contact's timeline; False when crm cannot take one (yet)."""
    contact = get_contact(contact_id)
    if contact is None:
        return False
    try:
        from heedful.crm import services as crm_services
    except ImportError:
        return False
    service = getattr(crm_services, "add_timeline_entry", None)
    if service is None:
        return False
    offered: dict[str, Any] = {"contact": contact, "kind": kind, "title": title[:200], "body": body, **extra}
    accepted = inspect.signature(service).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    service(**{k: v for k, v in offered.items() if takes_any or k in accepted})
    return True


def add_timeline_entries(entries: list[dict[str, Any]]) -> list[bool]:
    """``add_timeline_entry(**entry)`` for each, in one insert when crm offers it; True where added."""
    contacts = get_contacts(entry.get("contact_id") for entry in entries)
    added = [str(entry.get("contact_id")) in contacts for entry in entries]
    try:
        from heedful.crm import services as crm_services
    except ImportError:
        return [False] * len(entries)
    bulk = getattr(crm_services, "add_timeline_entries", None)
    if bulk is None:
        return [add_timeline_entry(**entry) for entry in entries]
    rows = []
    for entry, found in zip(entries, added, strict=True):
        if found:
            row = {k: v for k, v in entry.items() if k != "contact_id"}
            rows.append({**row, "contact": contacts[str(entry["contact_id"])], "title": entry["title"][:200]})
    bulk(rows)
    return added
