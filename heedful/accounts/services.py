"""Writes for accounts: owners, invitations, roles and API tokens. Each is audited."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from heedful.accounts.models import ApiToken, User
from heedful.accounts.roles import Role
from heedful.governance.services import record_audit


class AccountError(Exception):
    """The account change cannot be made; the message says why."""


def set_password_link(user: User) -> str:
    """A one-time link where ``user`` chooses a password (used by invitations and first start)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL + reverse("accounts:invite-accept", kwargs={"uidb64": uid, "token": token})


def _normalise_email(email: str) -> str:
    email = email.strip()
    if "@" not in email:
        raise AccountError(_("Enter a valid email address."))
    local, _at, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


@transaction.atomic
def create_owner(*, email: str, password: str | None = None, first_name: str = "") -> User:
    """Create the first owner. Without a password the account can only be entered by its link."""
    email = _normalise_email(email)
    if User.objects.filter(role=Role.OWNER).exists():
        raise AccountError(_("An owner already exists."))
    user = User(email=email, username=email, first_name=first_name, role=Role.OWNER, is_staff=True)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    record_audit(action="user.create_owner", automation="setup", obj=user, summary=f"Owner {email} created")
    return user


@transaction.atomic
def invite_user(
    *, email: str, role: str, invited_by: User, first_name: str = "", last_name: str = ""
) -> User:
    email = _normalise_email(email)
    if role not in Role.values:
        raise AccountError(_("Unknown role."))
    if role == Role.OWNER and invited_by.role != Role.OWNER:
        raise AccountError(_("Only an owner can invite another owner."))
    if User.objects.filter(email__iexact=email).exists():
        raise AccountError(_("Someone with this email address already has an account."))
    user = User(email=email, username=email, first_name=first_name, last_name=last_name, role=role)
    user.set_unusable_password()
    user.save()
    record_audit(action="user.invite", user=invited_by, obj=user, summary=f"Invited {email} as {role}")
    link = set_password_link(user)
    business = settings.BUSINESS_NAME
    transaction.on_commit(
        lambda: send_mail(
            subject=_("You are invited to %(business)s on heedful") % {"business": business},
            message=_(
                "%(inviter)s invited you to %(business)s.\n\n"
                "Choose your password here (the link works once and expires in 3 days):\n%(link)s\n"
            )
            % {"inviter": invited_by.display_name, "business": business, "link": link},
            from_email=None,
            recipient_list=[email],
        )
    )
    return user


def _is_last_owner(user: User) -> bool:
    others = User.objects.filter(role=Role.OWNER, is_active=True).exclude(pk=user.pk)
    return user.role == Role.OWNER and not others.exists()


@transaction.atomic
def change_role(*, user: User, role: str, changed_by: User) -> User:
    if role not in Role.values:
        raise AccountError(_("Unknown role."))
    if role != Role.OWNER and _is_last_owner(user):
        raise AccountError(_("The last owner cannot be demoted; make someone else owner first."))
    before = user.role
    user.role = role
    user.is_staff = role == Role.OWNER
    user.save(update_fields=["role", "is_staff"])
    record_audit(
        action="user.change_role",
        user=changed_by,
        obj=user,
        summary=f"{user.email}: {before} → {role}",
        changes={"role": [before, role]},
    )
    return user


@transaction.atomic
def deactivate_user(*, user: User, changed_by: User) -> User:
    if user.pk == changed_by.pk:
        raise AccountError(_("You cannot deactivate yourself."))
    if _is_last_owner(user):
        raise AccountError(_("The last owner cannot be deactivated."))
    user.is_active = False
    user.save(update_fields=["is_active"])
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record_audit(action="user.deactivate", user=changed_by, obj=user, summary=f"{user.email} deactivated")
    return user


@transaction.atomic
def create_api_token(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; the returned secret is shown once and never stored."""
    name = name.strip() or "API token"
    secret = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=user, name=name[:100], key_prefix=secret[:10], key_hash=ApiToken.hash_key(secret)
    )
    record_audit(
        action="token.create", user=user, obj=token, summary=f"API token {token.key_prefix}… created"
    )
    return token, secret


@transaction.atomic
def revoke_api_token(*, token: ApiToken, user: User) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_audit(
            action="token.revoke", user=user, obj=token, summary=f"API token {token.key_prefix}… revoked"
        )
    return token
