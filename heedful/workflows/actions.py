"""Workflow actions: what an ``action`` step can do, and the governance action types behind them.

A workflow never acts directly. An action step renders its parameters, writes a
decision record and *proposes* a governance action; the owner's policy (auto / ask /
never) decides whether it runs now, waits in the approval queue, or is blocked.
The handlers below run inside governance's ``execute_action`` transaction, so they
only touch the database: email and webhook calls are written to the outbox and
delivered after commit.

Adding a workflow action (see README.md in this folder for the full recipe):

1. write a governance handler (``execute(params, proposal) -> ActionOutcome``) and
   register its ``ActionType`` in ``register_action_types``;
2. add a ``WorkflowAction`` to ``WORKFLOW_ACTIONS`` saying which step parameters it
   takes and how they become the governance action's parameters (``build``);
3. test it through ``services.advance_run`` with each policy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from heedful.db_bulk import insert_each
from heedful.governance.actions import ActionError, ActionOutcome, ActionType, register_action
from heedful.workflows import crm_bridge
from heedful.workflows.expressions import parse_duration, tokens_in
from heedful.workflows.models import (
    OutboxKind,
    OutboxMessage,
    RunStatus,
    WorkflowRun,
    WorkflowTask,
)

if TYPE_CHECKING:
    from heedful.governance.models import ProposedAction


@dataclass(frozen=True)
class Built:
    """A rendered action step, ready to propose."""

    action_type: str
    params: dict[str, Any]
    summary: str


@dataclass(frozen=True)
class WorkflowAction:
    name: str
    label: Any  # a lazy translation
    required_params: tuple[str, ...]
    optional_params: tuple[str, ...]
    # rendered step params + the run context → the governance action to propose
    build: Callable[[dict[str, Any], dict[str, Any]], Built]
    validate: Callable[[dict[str, Any]], list[str]] = field(default=lambda params: [])
    # Which rendered params a preview (and the dry run) shows.
    preview_fields: tuple[str, ...] = ()


def _contact_id(context: dict[str, Any]) -> Any:
    subject = context.get("subject", {})
    if subject.get("type") == "contact":
        return subject.get("id")
    return context.get("contact", {}).get("id")


def _run_ref(context: dict[str, Any]) -> dict[str, Any]:
    return {
        "workflow_run_id": context.get("run", {}).get("id"),
        "workflow": context.get("workflow", {}).get("slug"),
    }


def _build_email(params: dict[str, Any], context: dict[str, Any]) -> Built:
    to = params.get("to") or context.get("contact", {}).get("email")
    if not to or "@" not in str(to):
        raise ActionError("There is no email address to send to (set 'to' or give the run a contact).")
    return Built(
        "workflows.send_email",
        {
            "to": str(to),
            "subject": params["subject"],
            "body": params["body"],
            "contact_id": _contact_id(context),
            **_run_ref(context),
        },
        f"Email {to}: {params['subject']}",
    )


def _build_webhook(params: dict[str, Any], context: dict[str, Any]) -> Built:
    return Built(
        "workflows.call_webhook",
        {
            "url": params["url"],
            "body": params.get("body", {"event": context.get("event", {})}),
            "timeout": int(params.get("timeout", 10)),
            **_run_ref(context),
        },
        f"Call {params['url']}",
    )


def _check_webhook(params: dict[str, Any]) -> list[str]:
    url = str(params.get("url", ""))
    errors = []
    if "{{" not in url and urlsplit(url).scheme not in ("http", "https"):
        errors.append("url: must start with http:// or https://")
    timeout = params.get("timeout", 10)
    if not isinstance(timeout, int) or not 1 <= timeout <= 60:
        errors.append("timeout: must be a whole number of seconds from 1 to 60")
    return errors


def _check_email(params: dict[str, Any]) -> list[str]:
    errors = []
    for key in ("subject", "body", "to"):
        value = params.get(key)
        if value is not None and not isinstance(value, str):
            errors.append(f"{key}: must be text")
        elif value and value.count("{{") != len(tokens_in(value)):
            errors.append(f'{key}: a token is malformed; write {{{{ contact.first_name|default:"there" }}}}')
    return errors


def _build_tag(params: dict[str, Any], context: dict[str, Any]) -> Built:
    contact_id = _contact_id(context)
    if contact_id is None:
        raise ActionError("Only a run about a contact can tag; this run has none.")
    return Built(
        "crm.add_tag", {"contact_id": contact_id, "tag_name": params["tag"]}, f"Tag with {params['tag']!r}"
    )


def _build_note(params: dict[str, Any], context: dict[str, Any]) -> Built:
    contact_id = _contact_id(context)
    if contact_id is None:
        raise ActionError("Only a run about a contact can add a timeline entry; this run has none.")
    return Built(
        "workflows.add_timeline_entry",
        {
            "contact_id": contact_id,
            "title": params["title"],
            "body": params.get("body", ""),
            **_run_ref(context),
        },
        f"Timeline: {params['title']}",
    )


def _build_task(params: dict[str, Any], context: dict[str, Any]) -> Built:
    return Built(
        "workflows.create_task",
        {
            "title": params["title"],
            "assignee_email": params.get("assignee", ""),
            "due_in": params.get("due_in", ""),
            "notes": params.get("notes", ""),
            "subject": context.get("subject", {}),
            **_run_ref(context),
        },
        f"Task for {params.get('assignee') or 'the team'}: {params['title']}",
    )


def _check_due(params: dict[str, Any]) -> list[str]:
    if params.get("due_in"):
        try:
            parse_duration(params["due_in"])
        except ValueError:
            return ['due_in: must be like "3d" or "12h"']
    return []


def _build_notify(params: dict[str, Any], context: dict[str, Any]) -> Built:
    return Built(
        "workflows.notify_user",
        {
            "user_email": params["user"],
            "subject": params["subject"],
            "body": params["body"],
            **_run_ref(context),
        },
        f"Notify {params['user']}: {params['subject']}",
    )


def _build_ask_csat(params: dict[str, Any], context: dict[str, Any]) -> Built:
    # The conversation's events (conversation.resolved, …) carry its id; a step may name
    # another with {{ … }}, but asking about the triggering conversation is the usual case.
    raw = params.get("conversation_id") or context.get("event", {}).get("conversation_id")
    if raw in (None, ""):
        raise ActionError("This run is not about a conversation (its event has no conversation_id).")
    try:
        conversation_id = int(raw)
    except (TypeError, ValueError):
        raise ActionError(f"conversation_id must be a number, not {raw!r}.") from None
    return Built(
        "inbox.ask_csat",
        {"conversation_id": conversation_id, **_run_ref(context)},
        f"Ask the customer of conversation #{conversation_id} how it went (1–5)",
    )


def _check_conversation(params: dict[str, Any]) -> list[str]:
    value = params.get("conversation_id")
    if value is None or isinstance(value, int) or (isinstance(value, str) and "{{" in value):
        return []
    if isinstance(value, str) and value.strip().isdigit():
        return []
    return ['conversation_id: must be a number or a token like "{{ event.conversation_id }}"']


WORKFLOW_ACTIONS: dict[str, WorkflowAction] = {
    a.name: a
    for a in (
        WorkflowAction(
            "send_email",
            _("Send an email"),
            ("subject", "body"),
            ("to",),
            _build_email,
            _check_email,
            ("to", "subject", "body"),
        ),
        WorkflowAction(
            "call_webhook",
            _("Call a webhook"),
            ("url",),
            ("body", "timeout"),
            _build_webhook,
            _check_webhook,
            ("url", "body"),
        ),
        WorkflowAction("tag", _("Tag the contact"), ("tag",), (), _build_tag, preview_fields=("tag_name",)),
        WorkflowAction(
            "add_timeline_entry",
            _("Add a timeline entry"),
            ("title",),
            ("body",),
            _build_note,
            preview_fields=("title", "body"),
        ),
        WorkflowAction(
            "create_task",
            _("Create a task for someone"),
            ("title",),
            ("assignee", "due_in", "notes"),
            _build_task,
            _check_due,
            ("title", "assignee_email"),
        ),
        WorkflowAction(
            "notify_user",
            _("Notify someone on the team"),
            ("user", "subject", "body"),
            (),
            _build_notify,
            _check_email,
            ("user_email", "subject", "body"),
        ),
        # The inbox's own question (signed rating links, reply "5", results per agent), asked
        # once per conversation whoever asks: see heedful/inbox/csat.py.
        WorkflowAction(
            "ask_csat",
            _("Ask the customer how it went (CSAT)"),
            (),
            ("conversation_id",),
            _build_ask_csat,
            _check_conversation,
            ("conversation_id",),
        ),
    )
}


# --- Governance handlers ------------------------------------------------------------------


def stable_message_id(key: str) -> str:
    """The same outbox key always gives the same Message-ID, so a receiver can drop a repeat."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = (
        str(getattr(settings, "DEFAULT_FROM_EMAIL", "")).rsplit("@", 1)[-1].strip("> ") or "heedful.local"
    )
    return f"<wf-{digest}@{domain}>"


def queue_email(
    *, key: str, to: str, subject: str, body: str, run_id: Any, proposal_id: Any
) -> OutboxMessage:
    """Write an email to the outbox (idempotent on ``key``); delivered after commit."""
    row = _email_row(key=key, to=to, subject=subject, body=body, run_id=run_id, proposal_id=proposal_id)
    message, created = OutboxMessage.objects.get_or_create(
        idempotency_key=key,
        defaults={"kind": row.kind, "payload": row.payload, "run_id": run_id, "proposal_id": proposal_id},
    )
    if created:
        _deliver_on_commit(message.pk)
    return message


def _email_row(*, key: str, to: str, subject: str, body: str, run_id: Any, proposal_id: Any) -> OutboxMessage:
    return OutboxMessage(
        idempotency_key=key,
        kind=OutboxKind.EMAIL,
        payload={
            "to": [to],
            "subject": subject,
            "body": body,
            "from": settings.DEFAULT_FROM_EMAIL,
            "message_id": stable_message_id(key),
        },
        run_id=run_id,
        proposal_id=proposal_id,
    )


# Set while ``services.advance_runs`` works through a batch: the outbox ids committed in
# it are delivered together afterwards, over one connection, instead of a task each.
_batch: ContextVar[list[int] | None] = ContextVar("workflow_delivery_batch", default=None)


@contextmanager
def collect_deliveries() -> Iterator[list[int]]:
    """Gather the outbox ids committed inside the block instead of queueing a task for each.

    A worker lost before the caller queues them leaves them ``pending``; the sweep sends them.
    """
    collected: list[int] = []
    token = _batch.set(collected)
    try:
        yield collected
    finally:
        _batch.reset(token)


def _deliver_on_commit(message_id: int) -> None:
    from heedful.workflows.tasks import deliver_outbox_task

    batch = _batch.get()
    if batch is not None:
        transaction.on_commit(lambda: batch.append(message_id))
    else:
        transaction.on_commit(lambda: deliver_outbox_task.delay(message_id))


def _deliver_many_on_commit(message_ids: list[int]) -> None:
    from heedful.workflows.services import DELIVERY_BATCH
    from heedful.workflows.tasks import deliver_outbox_batch_task

    if not message_ids:
        return
    batch = _batch.get()
    if batch is not None:
        transaction.on_commit(lambda: batch.extend(message_ids))
        return

    def enqueue() -> None:
        for start in range(0, len(message_ids), DELIVERY_BATCH):
            deliver_outbox_batch_task.delay(message_ids[start : start + DELIVERY_BATCH])

    transaction.on_commit(enqueue)


def _wake_waiting_runs(proposals: Sequence[ProposedAction]) -> None:
    """``_wake_waiting_run`` for many: the runs that waited for one of these proposals go on."""
    waiting = WorkflowRun.objects.filter(
        status=RunStatus.WAITING, waiting_proposal_id__in=[p.pk for p in proposals]
    )
    run_ids = list(waiting.values_list("pk", flat=True))
    if not run_ids:
        return
    WorkflowRun.objects.filter(pk__in=run_ids, status=RunStatus.WAITING).update(
        status=RunStatus.RUNNING, touched_at=timezone.now()
    )
    from heedful.workflows.tasks import advance_runs_task

    transaction.on_commit(lambda: advance_runs_task.delay(run_ids))


def _existing_run_ids(params: Iterable[Mapping[str, Any]]) -> dict[Any, int]:
    """``_existing_run_id`` for many, in one query: run id → itself where the run exists."""
    wanted = {p.get("workflow_run_id") for p in params}
    ids = [i for i in wanted if isinstance(i, int)]
    if not ids:
        return {}
    return {pk: pk for pk in WorkflowRun.objects.filter(pk__in=ids).values_list("pk", flat=True)}


def _wake_waiting_run(params: Mapping[str, Any], proposal: ProposedAction) -> None:
    """A person approved what a run was waiting for: let it go on now, not at the next sweep."""
    run_id = params.get("workflow_run_id")
    if not run_id:
        return
    woke = WorkflowRun.objects.filter(
        pk=run_id, status=RunStatus.WAITING, waiting_proposal_id=proposal.pk
    ).update(status=RunStatus.RUNNING, touched_at=timezone.now())
    if woke:
        from heedful.workflows.tasks import advance_run_task

        transaction.on_commit(lambda: advance_run_task.delay(run_id))


def _existing_run_id(params: Mapping[str, Any]) -> int | None:
    run_id = params.get("workflow_run_id")
    if not isinstance(run_id, int):
        return None
    return run_id if WorkflowRun.objects.filter(pk=run_id).exists() else None


def _timeline_origin(params: Mapping[str, Any], proposal: ProposedAction) -> dict[str, Any]:
    """Who wrote a timeline entry and what it points at: the run when there is one."""
    run_id = params.get("workflow_run_id")
    return {
        "source": "workflows",
        "automation": proposal.proposed_by,
        "ref_type": "workflow_run" if run_id else "proposal",
        "ref_id": str(run_id or proposal.pk),
    }


def _email_entry(params: Mapping[str, Any], proposal: ProposedAction, message_id: str) -> dict[str, Any]:
    """The timeline entry a workflow email leaves on its contact."""
    return {
        "contact_id": params.get("contact_id"),
        "kind": "workflow",
        "title": f"Email from a workflow: {params['subject']}",
        "body": str(params["body"]),
        "data": {"to": str(params["to"]), "message_id": message_id, "proposal_id": proposal.pk},
        **_timeline_origin(params, proposal),
    }


def send_email(params: Mapping[str, Any], proposal: ProposedAction) -> ActionOutcome:
    to = str(params.get("to", ""))
    if "@" not in to:
        raise ActionError(f"{to!r} is not an email address.")
    message = queue_email(
        key=f"proposal:{proposal.pk}",
        to=to,
        subject=str(params["subject"]),
        body=str(params["body"]),
        run_id=_existing_run_id(params),
        proposal_id=proposal.pk,
    )
    on_timeline = crm_bridge.add_timeline_entry(
        **_email_entry(params, proposal, message.payload["message_id"])
    )
    _wake_waiting_run(params, proposal)
    return ActionOutcome(
        summary=f"Email to {to} queued for delivery",
        result={
            "outbox_id": message.pk,
            "message_id": message.payload["message_id"],
            "timeline": on_timeline,
        },
    )


def send_emails(proposals: Sequence[ProposedAction]) -> list[ActionOutcome | ActionError]:
    """``send_email`` for many proposals just made together (a campaign), in a few queries.

    The same rows as ``send_email`` one by one: an outbox message keyed ``proposal:{pk}``, a
    timeline entry where the contact exists, the same outcome. An address without "@" fails
    that proposal alone, with nothing written for it.
    """
    outcomes: list[ActionOutcome | ActionError | None] = []
    going = []
    for proposal in proposals:
        to = str(proposal.params.get("to", ""))
        if "@" in to:
            going.append(proposal)
            outcomes.append(None)
        else:
            outcomes.append(ActionError(f"{to!r} is not an email address."))
    runs = _existing_run_ids(p.params for p in going)
    messages = [
        _email_row(
            key=f"proposal:{p.pk}",
            to=str(p.params["to"]),
            subject=str(p.params["subject"]),
            body=str(p.params["body"]),
            run_id=runs.get(p.params.get("workflow_run_id")),
            proposal_id=p.pk,
        )
        for p in going
    ]
    insert_each(messages)
    _deliver_many_on_commit([m.pk for m in messages])
    on_timeline = crm_bridge.add_timeline_entries(
        [_email_entry(p.params, p, m.payload["message_id"]) for p, m in zip(going, messages, strict=True)]
    )
    _wake_waiting_runs(going)
    done = iter(
        ActionOutcome(
            summary=f"Email to {p.params['to']} queued for delivery",
            result={"outbox_id": m.pk, "message_id": m.payload["message_id"], "timeline": timeline},
        )
        for p, m, timeline in zip(going, messages, on_timeline, strict=True)
    )
    return [outcome if outcome is not None else next(done) for outcome in outcomes]


def describe_email(params: Mapping[str, Any]) -> str:
    return f"Email {params.get('to')}: “{params.get('subject')}”"


def call_webhook(params: Mapping[str, Any], proposal: ProposedAction) -> ActionOutcome:
    key = f"proposal:{proposal.pk}"
    message, created = OutboxMessage.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "kind": OutboxKind.WEBHOOK,
            "payload": {
                "url": params["url"],
                "body": params.get("body", {}),
                "timeout": int(params.get("timeout", 10)),
                "workflow": params.get("workflow") or "",
                "delivery_id": hashlib.sha256(key.encode()).hexdigest()[:32],
            },
            "run_id": _existing_run_id(params),
            "proposal_id": proposal.pk,
        },
    )
    if created:
        _deliver_on_commit(message.pk)
    _wake_waiting_run(params, proposal)
    return ActionOutcome(summary=f"Webhook to {params['url']} queued", result={"outbox_id": message.pk})


def add_timeline_entry(params: Mapping[str, Any], proposal: ProposedAction) -> ActionOutcome:
    added = crm_bridge.add_timeline_entry(
        contact_id=params.get("contact_id"),
        kind="workflow",
        title=str(params["title"]),
        body=str(params.get("body", "")),
        **_timeline_origin(params, proposal),
    )
    if not added:
        raise ActionError("The contact's timeline is not available (no such contact).")
    _wake_waiting_run(params, proposal)
    return ActionOutcome(summary=f"Timeline entry added: {params['title']}")


def create_task(params: Mapping[str, Any], proposal: ProposedAction) -> ActionOutcome:
    from heedful.accounts.models import User

    assignee = None
    if params.get("assignee_email"):
        assignee = User.objects.filter(email__iexact=params["assignee_email"], is_active=True).first()
        if assignee is None:
            raise ActionError(f"Nobody active signs in as {params['assignee_email']}.")
    subject = params.get("subject") or {}
    task, _created = WorkflowTask.objects.get_or_create(
        idempotency_key=f"proposal:{proposal.pk}",
        defaults={
            "title": str(params["title"])[:300],
            "notes": str(params.get("notes", "")),
            "assignee": assignee,
            "due_at": timezone.now() + parse_duration(params["due_in"]) if params.get("due_in") else None,
            "subject_type": subject.get("type", ""),
            "subject_id": str(subject.get("id", "")),
            "subject_label": subject.get("label", ""),
            "run_id": _existing_run_id(params),
        },
    )
    _wake_waiting_run(params, proposal)
    return ActionOutcome(
        summary=f"Task created: {task.title}", result={"task_id": task.pk}, undo_data={"task_id": task.pk}
    )


def undo_create_task(undo_data: Mapping[str, Any], proposal: ProposedAction) -> str:
    WorkflowTask.objects.filter(pk=int(undo_data.get("task_id") or 0)).delete()
    return "Task removed"


def notify_user(params: Mapping[str, Any], proposal: ProposedAction) -> ActionOutcome:
    from heedful.accounts.models import User

    user = User.objects.filter(email__iexact=params["user_email"], is_active=True).first()
    if user is None:
        raise ActionError(f"Nobody active signs in as {params['user_email']}.")
    queue_email(
        key=f"proposal:{proposal.pk}",
        to=user.email,
        subject=str(params["subject"]),
        body=str(params["body"]),
        run_id=_existing_run_id(params),
        proposal_id=proposal.pk,
    )
    WorkflowTask.objects.get_or_create(
        idempotency_key=f"notice:{proposal.pk}",
        defaults={
            "title": str(params["subject"])[:300],
            "notes": str(params["body"]),
            "assignee": user,
            "run_id": _existing_run_id(params),
        },
    )
    _wake_waiting_run(params, proposal)
    return ActionOutcome(summary=f"{user.email} notified (in heedful and by email)")


def continue_run(params: Mapping[str, Any], proposal: ProposedAction) -> ActionOutcome:
    """An approval step: approving it lets the run go on (nothing else happens)."""
    _wake_waiting_run(params, proposal)
    return ActionOutcome(summary="Approved: the workflow goes on")


def register_action_types() -> None:
    """Called from ``WorkflowsConfig.ready()``."""
    for action_type in (
        # Customers are people: an email to one asks first unless the owner allows it.
        ActionType(
            name="workflows.send_email",
            label=str(_("Send a workflow email")),
            default_policy="ask",
            execute=send_email,
            execute_many=send_emails,
            describe=describe_email,
            editable_params=("subject", "body"),
        ),
        # Data leaves the system: ask first by default.
        ActionType(
            name="workflows.call_webhook",
            label=str(_("Call an outgoing webhook")),
            default_policy="ask",
            execute=call_webhook,
            describe=lambda p: f"POST to {p.get('url')}",
            editable_params=("url",),
        ),
        ActionType(
            name="workflows.add_timeline_entry",
            label=str(_("Add a timeline entry")),
            default_policy="auto",
            execute=add_timeline_entry,
            describe=lambda p: f"Timeline entry: {p.get('title')}",
        ),
        # Internal to-dos and notices go to the team, not to customers.
        ActionType(
            name="workflows.create_task",
            label=str(_("Create a task")),
            default_policy="auto",
            execute=create_task,
            undo=undo_create_task,
            describe=lambda p: f"Task for {p.get('assignee_email') or 'the team'}: {p.get('title')}",
            editable_params=("title", "assignee_email", "notes"),
        ),
        ActionType(
            name="workflows.notify_user",
            label=str(_("Notify a team member")),
            default_policy="auto",
            execute=notify_user,
            describe=lambda p: f"Notify {p.get('user_email')}: {p.get('subject')}",
        ),
        # An approval step exists to ask a person: it always asks unless the owner says otherwise.
        ActionType(
            name="workflows.continue_run",
            label=str(_("Let a workflow go on")),
            default_policy="ask",
            execute=continue_run,
            describe=lambda p: str(p.get("question", "Let the workflow go on?")),
        ),
    ):
        register_action(action_type)


# A day is how long a pending approval inside a workflow waits by default.
APPROVAL_EXPIRES_IN = timedelta(days=7)
