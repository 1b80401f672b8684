from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from heedful.accounts.roles import Perm, Role

# Set at sign-in by the people app (whether the account is on the staff list), read here.
EMPLOYEE_RECORD = "heedful.has_employee_record"


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    allowed = {p.value: bool(user and user.is_authenticated and user.can(p)) for p in Perm}
    return {
        "perms_for": allowed,
        "business_name": settings.BUSINESS_NAME,
        "has_employee_record": has_employee_record(request),
    }


def has_employee_record(request: HttpRequest) -> bool:
    """Whether "My leave" means something to the signed-in person: no query, the sign-in said.

    Every employee account is on the staff list; an owner, manager, agent or HR account may
    not be. An account linked to an employee later sees the link from its next sign-in; a
    session from before the flag existed shows it, as before.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if user.role == Role.EMPLOYEE:
        return True
    session = getattr(request, "session", None)
    return bool(session.get(EMPLOYEE_RECORD, True)) if session is not None else True
