"""Reads for the agent pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from heedful.accounts.models import User
from heedful.accounts.roles import ROLE_PERMISSIONS, Perm
from heedful.inbox import contacts
from heedful.inbox.models import CannedResponse, Conversation, CsatRequest, Direction, Message, Order, Status

FILTERS = {
    "open": ("Needs a person", {"status": Status.OPEN}),
    "bot": ("With the bot", {"status": Status.BOT}),
    "waiting": ("Waiting on customer", {"status": Status.WAITING}),
    "resolved": ("Resolved", {"status": Status.RESOLVED}),
    "all": ("All", {}),
}


# The work views put the most urgent first, then whoever has waited longest; the others read
# like a mailbox, most recent first, so yesterday's resolved conversation is on page one.
ORDERINGS = {
    "open": ("-priority", "created_at", "id"),
    "bot": ("-priority", "created_at", "id"),
    "waiting": ("-updated_at", "-id"),
    "resolved": ("-resolved_at", "-id"),
    "all": ("-updated_at", "-id"),
}
SEARCH_WORDS = 10  # a pasted essay should not build a huge query
PAGE_SIZE = 50


def search_conversations(rows: QuerySet[Conversation], query: str) -> QuerySet[Conversation]:
    """Conversations in ``rows`` matching every word of ``query``.

    A word matches the customer's name or address, the subject, a tag or any message, so
    "anna refund" finds Anna's conversation that mentions a refund. "#42" (or "42") also
    finds conversation 42.
    """
    for word in query.split()[:SEARCH_WORDS]:
        said = Message.objects.filter(conversation=OuterRef("pk"), body__icontains=word)
        matches = (
            Q(customer_name__icontains=word)
            | Q(customer_email__icontains=word)
            | Q(subject__icontains=word)
            | Q(tags__icontains=word)
            | Q(Exists(said))
        )
        number = word.removeprefix("#")
        if number.isdigit() and len(number) < 12:
            matches |= Q(pk=int(number))
        rows = rows.filter(matches)
    return rows


def inbox_conversations(
    *, view: str, user: User, mine: bool = False, query: str = ""
) -> QuerySet[Conversation]:
    """Conversations for one inbox view with their latest message, in the view's order."""
    _label, lookup = FILTERS.get(view, FILTERS["open"])
    latest = Message.objects.filter(conversation=OuterRef("pk")).exclude(direction=Direction.INTERNAL)
    rows = Conversation.objects.filter(**lookup)
    if mine:
        rows = rows.filter(assignee=user)
    if query.strip():
        rows = search_conversations(rows, query)
    return (
        rows.select_related("assignee")
        .annotate(last_body=Subquery(latest.order_by("-created_at", "-id").values("body")[:1]))
        .order_by(*ORDERINGS.get(view, ORDERINGS["open"]))
    )


def inbox_counts(*, user: User, mine: bool = False) -> dict[str, int]:
    """How many conversations each view holds, for the view links: one query."""
    rows = Conversation.objects.filter(assignee=user) if mine else Conversation.objects.all()
    counts = rows.aggregate(
        all=Count("pk"),
        **{key: Count("pk", filter=Q(**lookup)) for key, (_label, lookup) in FILTERS.items() if lookup},
    )
    return {key: int(value or 0) for key, value in counts.items()}


def last_customer_text(conversation: Conversation) -> str:
    """The customer's latest message, for the knowledge-base suggestions."""
    return (
        conversation.messages.filter(direction=Direction.IN)
        .order_by("-created_at", "-id")
        .values_list("body", flat=True)
        .first()
        or ""
    )


def inbox_agents() -> list[User]:
    """Everyone a conversation may be assigned to: active accounts whose role works the inbox."""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if Perm.WORK_INBOX in perms]
    return list(User.objects.filter(is_active=True, role__in=roles).order_by("first_name", "email"))


@dataclass
class ConversationContext:
    conversation: Conversation
    messages: list[Message]
    timeline: list[Any]
    orders: list[Order]
    past: list[Conversation]
    canned: list[CannedResponse]
    agents: list[User]
    contact_url: str
    last_customer_text: str
    first_response_breached: bool
    resolution_breached: bool
    sla_warnings: list[str]


def conversation_context(conversation: Conversation) -> ConversationContext:
    messages = list(conversation.messages.select_related("author_user").prefetch_related("attachments"))
    email = conversation.customer_email
    last_customer = next((m.body for m in reversed(messages) if m.direction == Direction.IN), "")
    now = timezone.now()
    return ConversationContext(
        conversation=conversation,
        messages=messages,
        timeline=contacts.timeline_for(conversation.contact_id, limit=20),
        orders=list(Order.objects.filter(customer_email__iexact=email)[:10]) if email else [],
        past=list(
            Conversation.objects.filter(customer_email=email)
            .exclude(pk=conversation.pk)
            .order_by("-created_at", "-id")[:10]
        )
        if email
        else [],
        canned=list(CannedResponse.objects.all()[:50]),
        agents=inbox_agents(),
        contact_url=contacts.contact_url(conversation.contact_id),
        last_customer_text=last_customer,
        first_response_breached=conversation.first_response_breached(now),
        resolution_breached=conversation.resolution_breached(now),
        sla_warnings=conversation.sla_warnings(now),
    )


# --- customer satisfaction -------------------------------------------------------------------


@dataclass
class CsatRow:
    """CSAT results for one agent (or everyone: ``agent`` None) over a window."""

    agent: User | None
    label: str
    sent: int
    answered: int
    average: float | None
    satisfied_share: float | None
    response_rate: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent.pk if self.agent else None,
            "agent_name": self.label,
            "sent": self.sent,
            "answered": self.answered,
            "average": self.average,
            "satisfied_share": self.satisfied_share,
            "response_rate": self.response_rate,
        }


def sees_team_results(user: User) -> bool:
    """Managers and the owner see everyone's CSAT; an agent sees their own only (privacy)."""
    return user.can(Perm.VIEW_DECISIONS)


def _csat_row(agent: User | None, label: str, sent: int, answered: int, total: int, happy: int) -> CsatRow:
    return CsatRow(
        agent=agent,
        label=label,
        sent=sent,
        answered=answered,
        average=round(total / answered, 2) if answered else None,
        satisfied_share=round(happy / answered, 3) if answered else None,
        response_rate=round(answered / sent, 3) if sent else None,
    )


def csat_results(
    *, user: User, days: int, now: datetime | None = None
) -> tuple[list[CsatRow], CsatRow | None]:
    """Per-agent rows and the overall row for questions sent in the last ``days`` days.

    An agent gets only their own row and no overall row; managers and the owner get every
    agent (``None`` for conversations nobody held) and the total. Counts are of questions
    sent in the window; the average and share satisfied are over the answered ones.
    """
    from heedful.inbox.csat import SATISFIED_FROM

    since = (now or timezone.now()) - timedelta(days=days)
    asked = CsatRequest.objects.filter(sent_at__gte=since)
    if not sees_team_results(user):
        asked = asked.filter(agent=user)
    grouped = (
        asked.values("agent")
        .annotate(
            sent=Count("id"),
            answered=Count("id", filter=Q(rating__isnull=False)),
            total=Sum("rating", default=0),
            happy=Count("id", filter=Q(rating__gte=SATISFIED_FROM)),
        )
        .order_by("agent")
    )
    agents = {u.pk: u for u in User.objects.filter(pk__in=[g["agent"] for g in grouped if g["agent"]])}
    rows = []
    for g in grouped:
        agent = agents.get(g["agent"])
        label = agent.display_name if agent else "Nobody (unassigned)"
        rows.append(_csat_row(agent, label, g["sent"], g["answered"], g["total"], g["happy"]))
    rows.sort(key=lambda r: (r.agent is None, r.label.lower()))
    if not sees_team_results(user):
        if not rows:
            rows = [_csat_row(user, user.display_name, 0, 0, 0, 0)]
        return rows, None
    overall = _csat_row(
        None,
        "Everyone",
        sum(r.sent for r in rows),
        sum(r.answered for r in rows),
        sum(g["total"] for g in grouped),
        sum(g["happy"] for g in grouped),
    )
    return rows, overall


def csat_comments(*, user: User, limit: int = 20) -> QuerySet[CsatRequest]:
    """The latest answers with a comment, within what ``user`` may see."""
    rows = (
        CsatRequest.objects.exclude(comment="")
        .filter(conversation__isnull=False)
        .select_related("agent", "conversation")
    )
    if not sees_team_results(user):
        rows = rows.filter(agent=user)
    return rows.order_by("-answered_at")[:limit]
