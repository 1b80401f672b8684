"""Action types the CRM offers automations: tag a contact, note on a contact.

They run inside the transaction that marks the proposal done (see governance.actions),
so they only touch the database, and a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from heedful.crm import services
from heedful.crm.models import Contact
from heedful.governance.actions import ActionError, ActionOutcome, ActionType

if TYPE_CHECKING:
    from heedful.governance.models import ProposedAction


def _contact_or_none(contact_id: Any) -> Contact | None:
    try:
        return Contact.objects.filter(pk=int(contact_id)).first()
    except (TypeError, ValueError):
        return None


def _contact(params: Mapping[str, Any]) -> Contact:
    contact = _contact_or_none(params.get("contact_id"))
    if contact is None:
        raise ActionError(f"Contact #{params.get('contact_id')} does not exist (any more).")
    return contact


def _param(params: Mapping[str, Any], name: str) -> str:
    value = str(params.get(name) or "").strip()
    if not value:
        raise ActionError(f"The action has no {name}.")
    return value


def add_tag(params: Mapping[str, Any], proposal: ProposedAction) -> ActionOutcome:
    contact, tag_name = _contact(params), _param(params, "tag_name")
    try:
        added = services.tag_contact(contact=contact, tag_name=tag_name, automation=proposal.proposed_by)
    except ValidationError as exc:
        raise ActionError(" ".join(exc.messages)) from None
    if not added:
        # Undo must not remove a tag a person had put there before.
        return ActionOutcome(summary=f"{contact} already had the tag {tag_name}", result={"added": False})
    return ActionOutcome(
        summary=f"Tagged {contact} {tag_name}",
        result={"added": True},
        undo_data={"contact_id": contact.pk, "tag_name": tag_name},
    )


def remove_added_tag(undo_data: Mapping[str, Any], proposal: ProposedAction) -> str:
    contact = _contact_or_none(undo_data.get("contact_id"))
    tag_name = str(undo_data.get("tag_name", ""))
    if contact is None:
        return f"Contact #{undo_data.get('contact_id')} no longer exists; nothing to undo"
    removed = services.untag_contact(contact=contact, tag_name=tag_name, automation=f"undo of #{proposal.pk}")
    return (
        f"Removed the tag {tag_name} from {contact}"
        if removed
        else f"{contact} no longer had the tag {tag_name}"
    )


def describe_add_tag(params: Mapping[str, Any]) -> str:
    return f"Tag contact #{params.get('contact_id')} with “{params.get('tag_name', '')}”"


def add_note(params: Mapping[str, Any], proposal: ProposedAction) -> ActionOutcome:
    contact, body = _contact(params), _param(params, "body")
    note = services.add_note(
        contact=contact,
        user=None,
        body=body,
        automation=proposal.proposed_by,
        origin=f"proposal:{proposal.pk}",
    )
    # A note is a record of what was known; taking it back is a new note, not an undo.
    return ActionOutcome(summary=f"Added a note to {contact}", result={"note_id": note.pk}, undo_data=None)


def describe_add_note(params: Mapping[str, Any]) -> str:
    body = str(params.get("body", ""))
    return f"Note on contact #{params.get('contact_id')}: “{body[:80]}{'…' if len(body) > 80 else ''}”"


# Lazy labels, so the approval queue shows them in the reader's language.
ACTION_TYPES = (
    ActionType(
        name="crm.add_tag",
        label=cast(str, _("Tag a contact")),
        default_policy="ask",
        execute=add_tag,
        describe=describe_add_tag,
        undo=remove_added_tag,
        editable_params=("tag_name",),
    ),
    ActionType(
        name="crm.add_note",
        label=cast(str, _("Add a note to a contact")),
        default_policy="auto",
        execute=add_note,
        describe=describe_add_note,
    ),
)
