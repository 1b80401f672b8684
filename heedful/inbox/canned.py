"""Canned responses: replies the team reuses, with tokens filled in for the conversation.

Tokens are a small fixed list, written ``{{ customer.first_name }}`` with an optional default
for when the value is unknown: ``{{ customer.first_name|default:"there" }}``. They are not
Django templates: a canned body can never reach code or data beyond these values, and an
unknown token is refused when the response is saved (so a typo never reaches a customer).
An unknown value without a default becomes empty text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from heedful.governance.services import record_audit
from heedful.inbox import conf
from heedful.inbox.models import CannedResponse, Conversation, Order

if TYPE_CHECKING:
    from heedful.accounts.models import User

TOKEN = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*(?:\|\s*default\s*:\s*\"([^\"{}]*)\"\s*)?\}\}")
ANY_BRACES = re.compile(r"\{\{.*?\}\}", re.S)


@dataclass(frozen=True)
class Values:
    """What tokens may show, for one conversation and one agent (blank when unknown)."""

    customer_first_name: str = ""
    customer_name: str = ""
    customer_email: str = ""
    agent_first_name: str = ""
    agent_name: str = ""
    order_number: str = ""
    order_status: str = ""
    business_name: str = ""


TOKENS: dict[str, tuple[str, Callable[[Values], str]]] = {
    "customer.first_name": ("The customer's first name", lambda v: v.customer_first_name),
    "customer.name": ("The customer's full name", lambda v: v.customer_name),
    "customer.email": ("The customer's email address", lambda v: v.customer_email),
    "agent.first_name": ("Your first name", lambda v: v.agent_first_name),
    "agent.name": ("Your full name", lambda v: v.agent_name),
    "order.number": ("The customer's latest order number", lambda v: v.order_number),
    "order.status": ("The customer's latest order status", lambda v: v.order_status),
    "business.name": ("The business's name", lambda v: v.business_name),
}

SAMPLE = Values(
    customer_first_name="Anna",
    customer_name="Anna Berg",
    customer_email="anna@example.com",
    agent_first_name="Ana",
    agent_name="Ana Lopez",
    order_number="HF-10001",
    order_status="Shipped",
    business_name="",
)


def token_errors(body: str) -> list[str]:
    """Problems with the tokens in ``body``: unknown names and malformed ``{{ … }}``."""
    errors = []
    for found in ANY_BRACES.finditer(body):
        match = TOKEN.fullmatch(found.group(0))
        if match is None:
            errors.append(f"{found.group(0)} is not a token (write {{{{ customer.first_name }}}}).")
        elif match.group(1) not in TOKENS:
            errors.append(f"Unknown token {match.group(1)!r}; use one of: {', '.join(TOKENS)}.")
    if body.count("{{") != len(ANY_BRACES.findall(body)):
        errors.append("A token is not closed with }}.")
    return errors


def fill(body: str, values: Values) -> str:
    def replace(match: re.Match[str]) -> str:
        spec = TOKENS.get(match.group(1))
        value = spec[1](values) if spec else ""
        return value or (match.group(2) or "")

    return TOKEN.sub(replace, body)


def values_for(conversation: Conversation | None, agent: User | None) -> Values:
    if conversation is None:
        return Values(**{**SAMPLE.__dict__, "business_name": conf.business_name()})
    name = conversation.customer_name.strip()
    order = (
        Order.objects.filter(customer_email__iexact=conversation.customer_email).first()
        if conversation.customer_email
        else None
    )
    return Values(
        customer_first_name=name.split()[0] if name else "",
        customer_name=name,
        customer_email=conversation.customer_email,
        agent_first_name=(agent.first_name if agent else "") or "",
        agent_name=agent.get_full_name() if agent else "",
        order_number=order.number if order else "",
        order_status=order.get_status_display() if order else "",
        business_name=conf.business_name(),
    )


def render_canned(body: str, *, conversation: Conversation | None = None, agent: User | None = None) -> str:
    """The text to insert: tokens filled for this conversation (sample values without one)."""
    return fill(body, values_for(conversation, agent))


def _check(title: str, shortcut: str, body: str, exclude_pk: int | None = None) -> None:
    errors: dict[str, list[str]] = {}
    if not title.strip():
        errors["title"] = ["A canned response needs a title."]
    if not body.strip():
        errors["body"] = ["A canned response needs a text."]
    if problems := token_errors(body):
        errors.setdefault("body", []).extend(problems)
    taken = CannedResponse.objects.filter(shortcut=shortcut)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if shortcut and taken.exists():
        errors["shortcut"] = [f"The shortcut {shortcut!r} is taken."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_canned_response(*, title: str, shortcut: str, body: str, user: User) -> CannedResponse:
    shortcut = shortcut.strip().lower()
    _check(title, shortcut, body)
    canned = CannedResponse.objects.create(
        title=title.strip(), shortcut=shortcut or None, body=body.strip(), updated_by=user
    )
    record_audit(action="inbox.canned.create", user=user, obj=canned, summary=canned.title)
    return canned


@transaction.atomic
def update_canned_response(
    *, canned: CannedResponse, title: str, shortcut: str, body: str, user: User
) -> CannedResponse:
    shortcut = shortcut.strip().lower()
    _check(title, shortcut, body, exclude_pk=canned.pk)
    before = {"title": canned.title, "shortcut": canned.shortcut or "", "body": canned.body}
    canned.title, canned.shortcut, canned.body = title.strip(), shortcut or None, body.strip()
    canned.updated_by = user
    canned.save()
    after = {"title": canned.title, "shortcut": canned.shortcut or "", "body": canned.body}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    record_audit(action="inbox.canned.update", user=user, obj=canned, changes=changes)
    return canned


@transaction.atomic
def delete_canned_response(*, canned: CannedResponse, user: User) -> None:
    record_audit(
        action="inbox.canned.delete",
        user=user,
        obj=canned,
        summary=canned.title,
        changes={"body": [canned.body, ""]},
    )
    canned.delete()
