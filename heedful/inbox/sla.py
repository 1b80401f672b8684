"""SLA breaches: find timers that ran out, tell the right person once, in heedful and by email.

A beat task calls ``detect_sla_breaches`` every minute. A breach is a row unique per
conversation, timer and due time, so running the sweep twice (or on two workers at once)
tells nobody twice. The assignee is told; an unassigned conversation goes to the managers
(the owner when there is no manager). Each notice is shown in the person's inbox until
dismissed and emailed once by ``send_notice_email`` (claimed before sending, so a retried
task never sends it again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from heedful.governance.services import record_audit
from heedful.inbox import conf
from heedful.inbox.hours import overdue_in_words
from heedful.inbox.models import Conversation, SlaBreach, SlaKind, SlaNotice, Status

if TYPE_CHECKING:
    from heedful.accounts.models import User

ACTOR = "inbox-sla"


def _recipients(conversation: Conversation) -> list[User]:
    from heedful.accounts.models import User
    from heedful.accounts.roles import Role

    if conversation.assignee is not None and conversation.assignee.is_active:
        return [conversation.assignee]
    managers = list(User.objects.filter(is_active=True, role=Role.MANAGER).order_by("pk"))
    return managers or list(User.objects.filter(is_active=True, role=Role.OWNER).order_by("pk"))


def _candidates(now: datetime) -> list[tuple[Conversation, str, datetime]]:
    # With the bot (handed back) nobody owes a reply; resolved ones are done.
    unresolved = Conversation.objects.exclude(status__in=[Status.RESOLVED, Status.BOT]).select_related(
        "assignee"
    )
    found: list[tuple[Conversation, str, datetime]] = []
    for conversation in unresolved.filter(first_response_due_at__lt=now, first_responded_at__isnull=True):
        found.append((conversation, SlaKind.FIRST_RESPONSE, conversation.first_response_due_at))  # type: ignore[arg-type]
    for conversation in unresolved.filter(resolution_due_at__lt=now, resolved_at__isnull=True):
        found.append((conversation, SlaKind.RESOLUTION, conversation.resolution_due_at))  # type: ignore[arg-type]
    return found


def detect_sla_breaches(now: datetime | None = None) -> int:
    """Record every newly breached SLA timer and notify; returns how many breaches are new."""
    now = now or timezone.now()
    candidates = _candidates(now)
    known = set(
        SlaBreach.objects.filter(conversation_id__in={c.pk for c, _kind, _due in candidates}).values_list(
            "conversation_id", "kind", "due_at"
        )
    )
    new = 0
    for conversation, kind, due in candidates:
        if (conversation.pk, kind, due) in known:
            continue
        if _record_breach(conversation, kind, due, now) is not None:
            new += 1
    return new


def _record_breach(conversation: Conversation, kind: str, due: datetime, now: datetime) -> SlaBreach | None:
    try:
        with transaction.atomic():
            breach = SlaBreach.objects.create(
                conversation=conversation, kind=kind, due_at=due, detected_at=now
            )
            notices = [
                SlaNotice.objects.create(breach=breach, user=user, created_at=now)
                for user in _recipients(conversation)
            ]
            record_audit(
                action="inbox.sla.breach",
                automation=ACTOR,
                obj=conversation,
                summary=f"{breach.get_kind_display()} overdue; told "
                + (", ".join(n.user.email for n in notices) or "nobody (no manager or owner)"),
            )
            from heedful.inbox.tasks import send_sla_notice_task

            for notice in notices:
                transaction.on_commit(partial(send_sla_notice_task.delay, notice.pk))
    except IntegrityError:
        return None  # another sweep recorded it a moment ago
    return breach


def notice_text(notice: SlaNotice, now: datetime | None = None) -> tuple[str, str]:
    """The email's subject and body for one notice."""
    breach = notice.breach
    conversation = breach.conversation
    late = overdue_in_words((now or timezone.now()) - breach.due_at)
    what = "first reply" if breach.kind == SlaKind.FIRST_RESPONSE else "resolution"
    who = conversation.customer_name or conversation.customer_email or "a website visitor"
    link = conf.site_url() + reverse("inbox:conversation", args=[conversation.pk])
    whose = (
        "It is assigned to you."
        if conversation.assignee_id == notice.user_id
        else "Nobody is assigned to it; you are told as a manager."
    )
    subject = f"Overdue: {what} for conversation #{conversation.pk} ({late})"
    body = (
        f"The {what} for the conversation with {who} is overdue by {late} "
        f"(it was due {timezone.localtime(breach.due_at):%a %d %b %H:%M}).\n\n{whose}\n\nOpen it: {link}\n"
    )
    return subject, body


def send_notice_email(notice_id: int) -> bool:
    """Email one notice unless it was emailed already; returns whether it was sent now.

    The claim (``emailed_at``) is taken in the same transaction as the send, so a failed
    send releases it and the task's retry tries again.
    """
    try:
        with transaction.atomic():
            claimed = SlaNotice.objects.filter(pk=notice_id, emailed_at__isnull=True).update(
                emailed_at=timezone.now(), email_error=""
            )
            if not claimed:
                return False
            notice = SlaNotice.objects.select_related("breach__conversation", "user").get(pk=notice_id)
            subject, body = notice_text(notice)
            send_mail(subject, body, None, [notice.user.email])
    except Exception as exc:
        # The claim was rolled back; keep the reason visible, and let the task retry.
        SlaNotice.objects.filter(pk=notice_id).update(email_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    return True


def open_notices(user: User) -> QuerySet[SlaNotice]:
    """The person's undismissed breach notices for conversations still not resolved, newest first."""
    return (
        SlaNotice.objects.filter(user=user, dismissed_at__isnull=True)
        .exclude(breach__conversation__status=Status.RESOLVED)
        .select_related("breach__conversation")
        .order_by("-created_at", "-pk")
    )


def notices_for(user: User) -> QuerySet[SlaNotice]:
    """The latest of them, for the top of the inbox list."""
    return open_notices(user)[:20]


def sees_everyones_breaches(user: User) -> bool:
    """Managers and the owner watch the whole team's timers; an agent sees what they were told."""
    from heedful.accounts.roles import Perm

    return user.can(Perm.VIEW_DECISIONS)


@dataclass(frozen=True)
class BreachRow:
    """One open breach on the team's list: who was told, and the viewer's own notice if any."""

    breach: SlaBreach
    told: list[str]
    dismissed_by: list[str]
    my_notice_id: int | None


def open_breaches(viewer: User, limit: int = 200) -> list[BreachRow]:
    """Every breach of a conversation not yet resolved, newest first (for managers)."""
    breaches = (
        SlaBreach.objects.exclude(conversation__status=Status.RESOLVED)
        .select_related("conversation__assignee")
        .prefetch_related("notices__user")
        .order_by("-detected_at", "-pk")[:limit]
    )
    rows = []
    for breach in breaches:
        notices = sorted(breach.notices.all(), key=lambda n: n.user.email)
        mine = next((n for n in notices if n.user_id == viewer.pk and n.dismissed_at is None), None)
        rows.append(
            BreachRow(
                breach=breach,
                told=[n.user.email for n in notices],
                dismissed_by=[n.user.email for n in notices if n.dismissed_at is not None],
                my_notice_id=mine.pk if mine else None,
            )
        )
    return rows


@transaction.atomic
def dismiss_notice(*, notice_id: int, user: User) -> bool:
    return bool(
        SlaNotice.objects.filter(pk=notice_id, user=user, dismissed_at__isnull=True).update(
            dismissed_at=timezone.now()
        )
    )
