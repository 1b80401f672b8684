"""Role checks for views and the API."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from heedful.accounts.models import User
from heedful.accounts.roles import Perm

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


class AuthedRequest(HttpRequest):
    """The request type of views behind ``require`` or ``login_required``: the user is real."""

    user: User


def require(perm: Perm) -> Callable[[ViewFunc], ViewFunc]:
    """Decorate a view: signed in, and the user's role grants ``perm`` (else 403)."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.can(perm):  # type: ignore[union-attr]
                raise PermissionDenied(f"Your role does not allow this ({perm.value}).")
            return view(request, *args, **kwargs)

        return login_required(wrapped)  # type: ignore[return-value]

    return decorator


def has_perm(perm: Perm) -> type[BasePermission]:
    """A DRF permission class for one role permission."""

    class _HasPerm(BasePermission):
        message = f"Your role does not allow this ({perm.value})."

        def has_permission(self, request: Request, view: APIView) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.can(perm))

    _HasPerm.__name__ = f"Has_{perm.value}"
    return _HasPerm
