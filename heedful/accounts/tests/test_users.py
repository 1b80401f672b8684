from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from heedful.accounts import services
from heedful.accounts.models import User
from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import can_sign_in
from heedful.governance.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_owner_invites_an_agent_who_sets_a_password_through_the_link(
    owner_client: Client, owner: User
) -> None:
    with_callbacks = owner_client.post(
        "/accounts/users/", {"email": "new@example.com", "first_name": "New", "role": "agent"}
    )
    assert with_callbacks.status_code == 302
    invited = User.objects.get(email="new@example.com")
    assert (invited.role, invited.has_usable_password()) == (Role.AGENT, False)
    assert (
        AuditEvent.objects.filter(action="user.invite", actor_user=owner, object_id=str(invited.pk)).count()
        == 1
    )


def test_the_invitation_email_carries_a_working_one_time_link(
    owner: User, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        services.invite_user(email="new@example.com", role=Role.AGENT, invited_by=owner)
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = next(word for word in body.split() if "/accounts/invite/" in word)
    client = Client()
    page = client.get(link[link.index("/accounts/invite/") :], follow=True)
    form_url = page.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "tea-and-biscuits-42", "new_password2": "tea-and-biscuits-42"}
    )
    assert response.status_code == 302
    assert can_sign_in("new@example.com", "tea-and-biscuits-42")
    # The link works once.
    assert (
        "has been used or has expired"
        in Client().get(link[link.index("/accounts/invite/") :], follow=True).content.decode()
    )


def test_a_manager_cannot_manage_users(manager_client: Client) -> None:
    assert manager_client.get("/accounts/users/").status_code == 403
    assert (
        manager_client.post("/accounts/users/", {"email": "x@example.com", "role": "owner"}).status_code
        == 403
    )
    assert not User.objects.filter(email="x@example.com").exists()


def test_inviting_an_existing_address_is_refused_and_changes_nothing(
    owner_client: Client, agent: User
) -> None:
    response = owner_client.post("/accounts/users/", {"email": "ANA@example.com", "role": "manager"})
    assert response.status_code == 200
    assert "already has an account" in response.content.decode()
    assert User.objects.filter(email__iexact="ana@example.com").count() == 1


def test_the_last_owner_cannot_be_demoted(owner: User) -> None:
    with pytest.raises(services.AccountError, match="last owner"):
        services.change_role(user=owner, role=Role.AGENT, changed_by=owner)
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_changing_a_role_is_audited_with_old_and_new_value(owner_client: Client, agent: User) -> None:
    response = owner_client.post(f"/accounts/users/{agent.pk}/role/", {"role": "manager"})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.role == Role.MANAGER
    event = AuditEvent.objects.get(action="user.change_role")
    assert event.changes == {"role": ["agent", "manager"]}


def test_deactivating_revokes_api_tokens(owner: User, agent: User) -> None:
    token, _secret = services.create_api_token(user=agent, name="zapier")
    services.deactivate_user(user=agent, changed_by=owner)
    token.refresh_from_db()
    agent.refresh_from_db()
    assert agent.is_active is False
    assert token.revoked_at is not None


def test_create_owner_refuses_a_second_owner(owner: User) -> None:
    with pytest.raises(services.AccountError, match="already exists"):
        services.create_owner(email="second@example.com")
    assert User.objects.filter(role=Role.OWNER).count() == 1


def test_without_a_mail_server_the_owner_gets_the_invitation_link_instead_of_sent(
    owner_client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    # The embedded default writes mail to files: "Invitation sent" was not true.
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"

    response = owner_client.post(
        "/accounts/users/", {"email": "new@example.com", "first_name": "New", "role": "agent"}, follow=True
    )

    page = response.content.decode()
    assert "Invitation sent" not in page
    assert "no email left this machine. Give new@example.com this one-time link yourself" in page
    link = page[page.index(settings.SITE_URL + "/accounts/invite/") :].split("<")[0].split()[0]
    client = Client()
    form_url = client.get(link.removeprefix(settings.SITE_URL), follow=True).redirect_chain[-1][0]
    chosen = client.post(
        form_url, {"new_password1": "tea-and-biscuits-42", "new_password2": "tea-and-biscuits-42"}
    )
    assert chosen.status_code == 302
    assert User.objects.get(email="new@example.com").has_usable_password()
