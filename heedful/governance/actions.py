"""The registry of action types that automations may propose.

An app registers its action types in its ``AppConfig.ready()``. Each type
says how to run it, how to describe it to the person approving it, what
the policy is when the owner has not chosen one, and, where the effect can
be reversed, how to undo it. See CONTRIBUTING.md, "Adding an action type".

Handlers run inside the same database transaction that marks the proposal
done, so a worker killed half-way leaves no half-done action behind. Effects
outside the database (email, webhooks) must go through the outbox, which is
written in that same transaction and delivered afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heedful.governance.models import ProposedAction


class ActionError(Exception):
    """The action cannot run with these parameters; the message says why, in plain words."""


@dataclass(frozen=True)
class ActionOutcome:
    summary: str
    result: dict[str, Any] = field(default_factory=dict)
    # What undo() needs; None when the effect cannot be reversed.
    undo_data: dict[str, Any] | None = None


@dataclass(frozen=True)
class ActionType:
    name: str
    label: str
    default_policy: str  # "auto", "ask" or "never"
    execute: Callable[[Mapping[str, Any], ProposedAction], ActionOutcome]
    describe: Callable[[Mapping[str, Any]], str]
    undo: Callable[[Mapping[str, Any], ProposedAction], str] | None = None
    # Parameters a person may change before approving (edit-then-approve).
    editable_params: tuple[str, ...] = ()
    # Optional: run many proposals of this type just proposed together (a campaign's emails)
    # in a few queries. Same contract as ``execute`` for each, in order: an outcome, or the
    # ActionError that one failed with, having written nothing for it.
    execute_many: Callable[[Sequence[ProposedAction]], list[ActionOutcome | ActionError]] | None = None


_REGISTRY: dict[str, ActionType] = {}


def register_action(action_type: ActionType) -> ActionType:
    if action_type.default_policy not in {"auto", "ask", "never"}:
        raise ValueError(f"{action_type.name}: unknown default policy {action_type.default_policy!r}")
    _REGISTRY[action_type.name] = action_type
    return action_type


def get_action_type(name: str) -> ActionType:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ActionError(f"Unknown action type {name!r}") from None


def all_action_types() -> list[ActionType]:
    return sorted(_REGISTRY.values(), key=lambda a: a.name)
