"""Reads other apps and the pages share: contact search and a contact's timeline."""

from __future__ import annotations

import operator
from functools import reduce

from django.db.models import Q, QuerySet

from heedful.crm.models import Contact, TimelineEntry

SEARCH_FIELDS = ("first_name", "last_name", "email", "phone", "postcode", "company__name")


def search_contacts(q: str = "", tag: str | None = None) -> QuerySet[Contact]:
    """Contacts matching every word of ``q`` in some field, optionally with the tag ``tag``.

    ``search_contacts("ana acme")`` finds Ana Lopez of ACME Ltd: each word may match a
    different field, so a full name or "name + company" works.
    """
    contacts = Contact.objects.select_related("company").prefetch_related("tags")
    for word in q.split()[:10]:  # ten words is plenty; a pasted essay should not build a huge query
        contacts = contacts.filter(
            reduce(operator.or_, (Q(**{f"{f}__icontains": word}) for f in SEARCH_FIELDS))
        )
    if tag:
        contacts = contacts.filter(tags__name__iexact=tag)
    return contacts.order_by("last_name", "first_name", "id")


def timeline_for(contact: Contact) -> QuerySet[TimelineEntry]:
    """The contact's timeline, newest first."""
    return (
        TimelineEntry.objects.filter(contact=contact)
        .select_related("actor_user")
        .order_by("-occurred_at", "-id")
    )
