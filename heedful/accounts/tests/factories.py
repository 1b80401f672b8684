from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from heedful.accounts.models import User
from heedful.accounts.roles import Role


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.LazyAttribute(lambda o: o.email)
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    role = Role.AGENT
    password = factory.django.Password("correct-horse-battery")


def can_sign_in(email: str, password: str) -> bool:
    """Sign in through the real form (axes needs a request, so Client.login won't do)."""
    from django.test import Client

    return Client().post("/accounts/login/", {"username": email, "password": password}).status_code == 302
