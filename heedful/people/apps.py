from typing import Any

from django.apps import AppConfig


def _link_on_sign_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from heedful.people.services import link_account

    link_account(user)


class PeopleConfig(AppConfig):
    name = "heedful.people"
    verbose_name = "People"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        # An invited person's first sign-in connects them to their HR record (same work email).
        user_logged_in.connect(_link_on_sign_in, dispatch_uid="heedful.people.link_account")
