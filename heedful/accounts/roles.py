"""Roles and what each may do.

The map is code, not data: a permission is a promise the product makes
("an agent cannot read the audit log"), so changing it is a reviewed change.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    HR = "hr", _("HR")
    AGENT = "agent", _("Agent")
    EMPLOYEE = "employee", _("Employee")


class Perm(StrEnum):
    VIEW_CONTACTS = "view_contacts"
    EDIT_CONTACTS = "edit_contacts"
    IMPORT_CONTACTS = "import_contacts"
    # Erasing a person and everything held about them cannot be undone: owner and managers only.
    ERASE_CONTACTS = "erase_contacts"
    VIEW_DECISIONS = "view_decisions"
    DECIDE_APPROVALS = "decide_approvals"
    UNDO_ACTIONS = "undo_actions"
    VIEW_AUDIT_LOG = "view_audit_log"
    MANAGE_USERS = "manage_users"
    MANAGE_POLICIES = "manage_policies"
    # People: managers are further limited to their own team by the people app's queries.
    VIEW_PEOPLE = "view_people"
    MANAGE_PEOPLE = "manage_people"
    MANAGE_SURVEYS = "manage_surveys"
    # Customer inbox: read and answer conversations, canned responses, one's own CSAT results.
    WORK_INBOX = "work_inbox"
    # Knowledge base and the team's canned responses: what the bot and everyone else say.
    MANAGE_KNOWLEDGE = "manage_knowledge"


_STAFF = {Perm.VIEW_CONTACTS, Perm.EDIT_CONTACTS, Perm.WORK_INBOX}
_MANAGING = _STAFF | {
    Perm.MANAGE_KNOWLEDGE,
    Perm.IMPORT_CONTACTS,
    Perm.ERASE_CONTACTS,
    Perm.VIEW_DECISIONS,
    Perm.DECIDE_APPROVALS,
    Perm.UNDO_ACTIONS,
}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.OWNER: frozenset(Perm),
    Role.MANAGER: frozenset(_MANAGING | {Perm.VIEW_PEOPLE}),
    Role.HR: frozenset({Perm.VIEW_PEOPLE, Perm.MANAGE_PEOPLE, Perm.MANAGE_SURVEYS}),
    Role.AGENT: frozenset(_STAFF),
    Role.EMPLOYEE: frozenset(),
}


def role_has(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())
