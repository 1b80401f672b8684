from typing import Any

from django.apps import AppConfig


def _link_on_sign_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from heedful.accounts.context_processors import EMPLOYEE_RECORD
    from heedful.people.services import link_account

    employee = link_account(user)
    session = getattr(request, "session", None)
    if session is not None:
        # Read by the menu on every page: "My leave" only for people on the staff list.
        session[EMPLOYEE_RECORD] = employee is not None


class PeopleConfig(AppConfig):
    name = "heedful.people"
    verbose_name = "People"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        # An invited person's first sign-in connects them to their HR record (same work email).
        user_logged_in.connect(_link_on_sign_in, dispatch_uid="heedful.people.link_account")
