from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from heedful.accounts.tests.factories import UserFactory, can_sign_in
from heedful.governance.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_it_signs_in_with_email_and_password_and_audits_it() -> None:
    user = UserFactory(email="kim@example.com")
    response = Client().post(
        "/accounts/login/", {"username": "kim@example.com", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    event = AuditEvent.objects.get(action="user.login")
    assert (event.actor_user, event.object_id, event.ip_address) == (user, str(user.pk), "127.0.0.1")


def test_it_rejects_a_wrong_password_without_saying_which_part_was_wrong() -> None:
    UserFactory(email="kim@example.com")
    response = Client().post("/accounts/login/", {"username": "kim@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct" in response.content.decode()
    assert not AuditEvent.objects.filter(action="user.login").exists()


def test_it_locks_an_account_after_five_failures_even_for_the_right_password() -> None:
    UserFactory(email="kim@example.com")
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": "kim@example.com", "password": "wrong"})
    response = client.post(
        "/accounts/login/", {"username": "kim@example.com", "password": "correct-horse-battery"}
    )
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_pages_require_sign_in() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_password_reset_sends_a_link_that_sets_a_new_password() -> None:
    UserFactory(email="kim@example.com")
    client = Client()
    response = client.post("/accounts/password-reset/", {"email": "kim@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line).strip()
    path = link[link.index("/accounts/reset/") :]
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    # Ours, not the Django admin's look-alike template of the same name.
    assert "At least 10 characters; not a common password." in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "a-much-better-secret", "new_password2": "a-much-better-secret"}
    )
    assert done.status_code == 302
    assert can_sign_in("kim@example.com", "a-much-better-secret")


def test_logout_needs_a_post() -> None:
    user = UserFactory()
    client = Client()
    client.force_login(user)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_reset_page_says_plainly_when_no_email_can_leave(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    UserFactory(email="kim@example.com")

    page = Client().post("/accounts/password-reset/", {"email": "nobody@example.com"}, follow=True)

    html = page.content.decode()
    assert "No email was sent" in html
    assert "heedful manage --data-dir data changepassword" in html
    assert "Check your email" not in html


def test_a_signed_in_person_changes_the_password_with_the_old_one_and_no_email() -> None:
    user = UserFactory(email="kim@example.com", password="the-old-passphrase-1")
    client = Client()
    client.force_login(user)

    new = {"new_password1": "a-much-better-secret", "new_password2": "a-much-better-secret"}
    wrong = client.post("/accounts/password/", {"old_password": "not-it", **new})
    right = client.post("/accounts/password/", {"old_password": "the-old-passphrase-1", **new})

    assert wrong.status_code == 200
    assert (right.status_code, right["Location"]) == (302, "/accounts/profile/")
    assert can_sign_in("kim@example.com", "a-much-better-secret")
    assert AuditEvent.objects.filter(action="user.password_change", actor_user=user).count() == 1
    assert len(mail.outbox) == 0
    assert 'href="/accounts/password/"' in client.get("/accounts/profile/").content.decode()
