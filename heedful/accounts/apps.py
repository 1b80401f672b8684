from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "heedful.accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Sign-ins come from Django's own views; its signal is the one place that sees them all.
        from django.contrib.auth.signals import user_logged_in

        from heedful.accounts import schema  # noqa: F401 - registers the OpenAPI auth extension

        user_logged_in.connect(_audit_login, dispatch_uid="heedful-audit-login")


def _audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from heedful.governance.services import record_audit

    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    record_audit(action="user.login", user=user, obj=user, summary="Signed in", ip_address=ip)
