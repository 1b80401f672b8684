"""Error pages look like the product and say what to do, without leaking internals."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from heedful.accounts.models import User
from heedful.crm.tests.factories import ContactFactory
from heedful.people.tests.factories import EmployeeFactory

pytestmark = pytest.mark.django_db


def test_a_view_s_own_reason_reaches_the_person_on_the_404_page(owner_client: Client) -> None:
    # The owner has no employee record, yet "My leave" is in everyone's menu.
    response = owner_client.get("/people/leave/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Your account is not linked to an employee record yet; ask HR." in html
    assert 'href="/contacts/"' in html  # the menu is there: the page is part of the product


def test_an_employee_without_a_checklist_is_told_so(employee_client: Client, employee: User) -> None:
    EmployeeFactory(user=employee, email=employee.email)

    response = employee_client.get("/people/onboarding/mine/")

    assert response.status_code == 404
    assert "You have no onboarding checklist." in response.content.decode()


def test_other_404s_get_the_general_words_and_no_model_names(owner_client: Client) -> None:
    ContactFactory()
    missing_record = owner_client.get("/contacts/999999/")
    wrong_address = owner_client.get("/no-such-page/")

    for response in (missing_record, wrong_address):
        assert response.status_code == 404
        html = response.content.decode()
        assert "There is nothing at this address." in html
        assert "matches the given query" not in html
        assert "Resolver404" not in html


def test_the_403_page_says_which_right_is_missing(employee_client: Client) -> None:
    response = employee_client.get("/contacts/")

    assert response.status_code == 403
    html = response.content.decode()
    assert "Your role does not allow this (view_contacts)." in html
    assert "ask the owner or a manager to change your role" in html


def test_the_500_page_renders_without_a_database_or_a_user() -> None:
    # Django renders it with an empty context: no request, no user, maybe no database.
    response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "look whether it was saved before you try again" in html


def test_the_favicon_address_browsers_guess_leads_to_the_icon(client: Client) -> None:
    response = client.get("/favicon.ico")

    assert (response.status_code, response["Location"]) == (301, "/static/heedful/favicon.svg")
