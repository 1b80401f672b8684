from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from heedful.accounts.roles import Perm


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    allowed = {p.value: bool(user and user.is_authenticated and user.can(p)) for p in Perm}
    return {"perms_for": allowed, "business_name": settings.BUSINESS_NAME}
