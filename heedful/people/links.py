"""Signed links: one-time leave decisions by email, and the private iCal feed address.

A decision link carries the request, the approver, the decision and the request's current
``decision_nonce``. The nonce rotates whenever any level decides, so a link works once: the
second click (or the other approver's link for the same level) finds a different nonce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core import signing

DECISION_SALT = "heedful.people.leave-decision"
ICAL_SALT = "heedful.people.ical-feed"
# Long enough for someone back from a week away; short enough that old mail is harmless.
DECISION_LINK_MAX_AGE = timedelta(days=10)


class LinkError(Exception):
    """The link is forged, expired, used or no longer applies; the message says which in plain words."""


@dataclass(frozen=True)
class DecisionLink:
    request_id: int
    approver_id: int
    approve: bool
    nonce: str


def make_decision_token(*, request_id: int, approver_id: int, approve: bool, nonce: str) -> str:
    return signing.dumps({"r": request_id, "u": approver_id, "a": approve, "n": nonce}, salt=DECISION_SALT)


def read_decision_token(token: str) -> DecisionLink:
    try:
        data = signing.loads(token, salt=DECISION_SALT, max_age=DECISION_LINK_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkError("This link has expired. Please decide on the leave page instead.") from exc
    except signing.BadSignature as exc:
        raise LinkError("This link is not valid.") from exc
    return DecisionLink(request_id=data["r"], approver_id=data["u"], approve=bool(data["a"]), nonce=data["n"])


def make_ical_token(user_id: int, key: str = "") -> str:
    """The feed address's token. Without a key it is the first kind (the signed id alone), so
    addresses people subscribed to before keys existed keep working until they ask for a new one."""
    return signing.dumps({"u": user_id, "k": key} if key else user_id, salt=ICAL_SALT)


def read_ical_token(token: str) -> tuple[int, str]:
    """The account id and the key the token was made with ("" for the first kind)."""
    try:
        data = signing.loads(token, salt=ICAL_SALT)
        if isinstance(data, dict):
            return int(data["u"]), str(data["k"])
        return int(data), ""
    except (signing.BadSignature, ValueError, TypeError, KeyError) as exc:
        raise LinkError("This calendar link is not valid.") from exc
