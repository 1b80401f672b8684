"""Test-only action types, so the trust spine is tested without any other app.

The effect of ``test.note`` is a row in a table with no unique key (a DecisionRecord
by the actor ``test-effect``): running it twice would show as two rows, not as an
IntegrityError that could hide the double run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from heedful.governance import actions
from heedful.governance.actions import ActionError, ActionOutcome, ActionType
from heedful.governance.models import ActorKind, DecisionRecord, ProposedAction
from heedful.governance.services import Subject, propose_action

EFFECT_ACTOR = "test-effect"


def write_note(params: Mapping[str, Any], proposal: ProposedAction) -> ActionOutcome:
    if not str(params.get("note", "")).strip():
        raise ActionError("A note needs some text.")
    # Holding the transaction open a moment makes a second runner arrive while the first works.
    time.sleep(float(params.get("sleep", 0)))
    effect = DecisionRecord.objects.create(
        actor_kind=ActorKind.RULE, actor_name=EFFECT_ACTOR, output_summary=params["note"]
    )
    return ActionOutcome(
        summary=f"Wrote the note “{params['note']}”",
        result={"effect_id": effect.pk},
        undo_data={"effect_id": effect.pk},
    )


def remove_note(undo_data: Mapping[str, Any], proposal: ProposedAction) -> str:
    DecisionRecord.objects.filter(pk=undo_data["effect_id"], actor_name=EFFECT_ACTOR).delete()
    return "Removed the note"


NOTE = ActionType(
    name="test.note",
    label="Write a test note",
    default_policy="ask",
    execute=write_note,
    describe=lambda params: f"Write the note “{params.get('note', '')}”",
    undo=remove_note,
    editable_params=("note",),
)
PERMANENT = ActionType(
    name="test.permanent",
    label="Write a permanent note",
    default_policy="ask",
    execute=lambda params, proposal: ActionOutcome(summary="Written for good"),
    describe=lambda params: "Write a note that cannot be taken back",
)


@pytest.fixture(autouse=True)
def action_types(monkeypatch: pytest.MonkeyPatch) -> dict[str, ActionType]:
    """Only the test action types are registered, whatever other apps register."""
    registry = {NOTE.name: NOTE, PERMANENT.name: PERMANENT}
    monkeypatch.setattr(actions, "_REGISTRY", registry)
    return registry


@pytest.fixture
def effects() -> Callable[[], list[str]]:
    """The notes test.note has written so far, oldest first."""

    def written() -> list[str]:
        return list(
            DecisionRecord.objects.filter(actor_name=EFFECT_ACTOR)
            .order_by("id")
            .values_list("output_summary", flat=True)
        )

    return written


@pytest.fixture
def propose(db: None) -> Callable[..., ProposedAction]:
    """Propose a test.note through the real service; keyword arguments override the defaults."""

    def make(note: str = "Call Noor back", **overrides: Any) -> ProposedAction:
        kwargs: dict[str, Any] = {
            "action_type": NOTE.name,
            "params": {"note": note},
            "explanation": "Noor waited 26 hours for a reply.",
            "proposed_by": "rule:follow-up",
            "subject": Subject("contact", "7", "Noor Okafor"),
        }
        kwargs.update(overrides)
        return propose_action(**kwargs)

    return make


@pytest.fixture
def eager_celery() -> Any:
    """Tasks run inline when sent, so a test can follow an on_commit callback to its effect."""
    from heedful.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved
