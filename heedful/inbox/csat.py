"""Customer satisfaction (C9): after a conversation is resolved, ask the customer how it went.

The question goes where the conversation happened: by email (email and web form) as a short
message with five rating links, in the chat (and the API's conversation) as a message with the
link. Each link carries a signed token naming the question, so the public rating page needs no
sign-in and cannot be pointed at another conversation. The question is asked once per
conversation (``CsatRequest`` is one-to-one with it); answering again updates the answer.

``send_csat_request`` is the one way to ask: ``resolve_conversation`` queues it (unless
``HEEDFUL_INBOX_CSAT_AFTER_RESOLVE`` is off, or an enabled workflow with an ``ask_csat`` step
will ask later instead) and that workflow step calls it through ``inbox.ask_csat``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from heedful.governance.models import ActorKind
from heedful.governance.services import record_audit, record_decision, set_decision_outcome
from heedful.inbox import conf, contacts
from heedful.inbox.models import Author, Conversation, CsatRequest, Status

if TYPE_CHECKING:
    from heedful.accounts.models import User

ACTOR = "inbox-csat"
SALT = "heedful.inbox.csat"
RATINGS = {
    1: "Very unhappy",
    2: "Unhappy",
    3: "Okay",
    4: "Happy",
    5: "Very happy",
}
# A rating of 4 or 5 counts as satisfied (the usual CSAT reading).
SATISFIED_FROM = 4


class CsatError(ValueError):
    """A rating that cannot be stored; the message is shown to the customer as it is."""


# A reply whose first line is only a rating: "4", "4/5", "4 of 5", "5!" (what follows is
# usually the quoted question, so only the first non-empty line counts).
_REPLY_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|(?:out\s+)?of\s+5)?\s*[.!]?\s*$", re.IGNORECASE)


def rating_in_reply(body: str) -> int | None:
    """The rating in a reply to the CSAT question, or None when the reply says something else."""
    first = next((line for line in body.splitlines() if line.strip()), "")
    found = _REPLY_RATING.match(first)
    return int(found.group(1)) if found else None


def token_for(request: CsatRequest) -> str:
    return signing.dumps(request.pk, salt=SALT, compress=True)


def request_for_token(token: str) -> CsatRequest | None:
    """The question a link belongs to, or None when the token is forged or too old."""
    try:
        pk = signing.loads(token, salt=SALT, max_age=conf.csat_link_days() * 86400)
    except signing.BadSignature:
        return None
    # An erased customer's question has no conversation left to rate.
    return (
        CsatRequest.objects.select_related("conversation").filter(pk=pk, conversation__isnull=False).first()
    )


def rating_url(request: CsatRequest, rating: int | None = None) -> str:
    token = token_for(request)
    if rating is None:
        return conf.site_url() + reverse("inbox:csat", args=[token])
    return conf.site_url() + reverse("inbox:csat-rate", args=[token, rating])


def _email_text(request: CsatRequest, name: str) -> str:
    hello = f"Hello {name}," if name else "Hello,"
    links = "\n".join(
        f"  {n} – {RATINGS[n]}: {rating_url(request, n)}" for n in sorted(RATINGS, reverse=True)
    )
    return (
        f"{hello}\n\nwe marked your conversation with {conf.business_name()} as resolved. "
        "How did it go? One click is enough:\n\n"
        f"{links}\n\nYou can add a comment on the page that opens. Thank you!"
    )


def _chat_text(request: CsatRequest) -> str:
    return f"How did it go? Please rate our help from 1 to 5 (one click): {rating_url(request)}"


@transaction.atomic
def send_csat_request(conversation: Conversation) -> CsatRequest | None:
    """Ask the customer of a resolved conversation how it went; once per conversation.

    Returns the new question, or None when it was asked before, the conversation is not
    resolved (any more), or there is no way to reach the customer.
    """
    from heedful.inbox.services import EMAILED_CHANNELS, post_outgoing, subject_of

    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if (
        conversation.status != Status.RESOLVED
        or CsatRequest.objects.filter(conversation=conversation).exists()
    ):
        return None
    by_email = conversation.channel in EMAILED_CHANNELS
    if by_email and not conversation.customer_email:
        return None
    agent = conversation.assignee or _last_agent(conversation)
    request = CsatRequest.objects.create(conversation=conversation, agent=agent)
    record = record_decision(
        actor_kind=ActorKind.RULE,
        actor_name=ACTOR,
        subject=subject_of(conversation),
        inputs={
            "conversation_id": conversation.pk,
            "resolved_at": conversation.resolved_at.isoformat() if conversation.resolved_at else None,
            "agent_id": agent.pk if agent else None,
        },
        output={"action": "ask_csat", "channel": "email" if by_email else conversation.channel},
        output_summary="Asked the customer how the conversation went (1–5)",
        factors=[
            {"text": "the conversation was resolved", "weight": 1.0},
            {"text": "the customer was not asked about it before", "weight": 1.0},
        ],
    )
    first_name = conversation.customer_name.split()[0] if conversation.customer_name.strip() else ""
    message = post_outgoing(
        conversation,
        author_kind=Author.SYSTEM,
        body=_email_text(request, first_name) if by_email else _chat_text(request),
        decision=record,
    )
    request.message = message
    request.decision = record
    request.save(update_fields=["message", "decision"])
    set_decision_outcome(record, f"Question sent (message #{message.pk})")
    record_audit(action="inbox.csat.ask", automation=ACTOR, obj=conversation)
    return request


def _last_agent(conversation: Conversation) -> User | None:
    last = (
        conversation.messages.filter(author_kind=Author.AGENT, author_user__isnull=False)
        .select_related("author_user")
        .order_by("-created_at", "-id")
        .first()
    )
    return last.author_user if last else None


@transaction.atomic
def record_csat_answer(*, request: CsatRequest, rating: int, comment: str | None = None) -> CsatRequest:
    """Store the customer's rating (and comment); answering again updates, never duplicates.

    ``comment=None`` keeps the comment already given (a click on a rating link).
    """
    if rating not in RATINGS:
        raise CsatError("Please choose a rating from 1 to 5.")
    # Lock the question only: its conversation is nullable (kept after an erasure) and
    # PostgreSQL cannot lock the nullable side of the outer join select_related makes.
    request = (
        CsatRequest.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=request.pk)
    )
    new_comment = request.comment if comment is None else comment.strip()[:2000]
    if request.rating == rating and request.comment == new_comment:
        return request
    first = request.rating is None
    request.rating = rating
    request.comment = new_comment
    request.answered_at = timezone.now()
    request.save(update_fields=["rating", "comment", "answered_at"])
    _add_to_timeline(request, first=first)
    set_decision_outcome(request.decision, f"The customer rated it {rating}/5")
    return request


def _add_to_timeline(request: CsatRequest, *, first: bool) -> None:
    conversation = request.conversation
    if conversation is None:
        return
    verb = "Rated" if first else "Changed the rating of"
    body = f"“{request.comment}”" if request.comment else ""
    contacts.add_entry(
        conversation,
        kind="survey",
        title=f"{verb} conversation #{conversation.pk}: {request.rating}/5 ({RATINGS[request.rating or 3]})",
        body=body,
        data={"conversation_id": conversation.pk, "csat_id": request.pk, "rating": request.rating},
    )
