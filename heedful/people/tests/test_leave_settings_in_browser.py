"""HR edits a leave policy in a real Chromium: a wrong approval level is pointed out as soon as
the field is left, nothing is saved until Save, and the change lands in the audit log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.governance.models import AuditEvent
from heedful.people.models import LeaveType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_hr_fixes_a_policy_with_errors_shown_in_place(browser: Any, live_server: Any) -> None:
    UserFactory(email="hana@example.com", first_name="Hana", role=Role.HR, password="pw-horse-battery")
    annual = LeaveType.objects.create(
        name="Annual leave", accrual_days=Decimal(25), carry_over_cap=Decimal(5), approval_steps=["manager"]
    )
    page = browser.new_context().new_page()
    failures: list[str] = []
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill("hana@example.com")
    page.get_by_label("Password").fill("pw-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/people/")
    page.get_by_role("link", name="Leave settings").click()
    page.get_by_role("link", name="Annual leave").click()
    levels = page.get_by_label("Approval levels")
    assert levels.input_value() == "manager"

    # Leaving the field checks it on the server and shows the error next to it; the page stays.
    levels.fill("manager, boss")
    page.get_by_label("Days per year").focus()
    error = page.locator("#id_approval_steps_errors")
    error.wait_for()
    assert error.inner_text() == "Unknown level: boss. Use manager and hr, in order, e.g. “manager, hr”."
    assert page.url == f"{live_server.url}/people/settings/leave/types/{annual.pk}/"
    annual.refresh_from_db()
    assert annual.approval_steps == ["manager"]

    # A check that answers late neither undoes what was typed meanwhile nor takes the Save
    # button from under a click. Each check is held: the first until the next field is typed
    # in, the last (leaving "Days per year") until the mouse is down on Save.
    held: list[Any] = []
    page.route(
        "**/people/settings/leave/types/*/",
        lambda route: held.append(route) if route.request.header_value("hx-request") else route.continue_(),
    )
    page.get_by_label("Approval levels").fill("manager, hr")
    page.get_by_label("Carry-over cap").fill("3")
    _release(page, held)
    error.wait_for(state="hidden")
    assert page.get_by_label("Carry-over cap").input_value() == "3"

    page.get_by_label("Days per year").fill("26")
    _release(page, held)
    save_button = page.get_by_role("button", name="Save")
    save_button.scroll_into_view_if_needed()
    save = save_button.bounding_box()
    assert save is not None
    page.mouse.move(save["x"] + save["width"] / 2, save["y"] + save["height"] / 2)
    page.mouse.down()
    _release(page, held)
    page.mouse.up()
    page.wait_for_url(f"{live_server.url}/people/settings/leave/")
    assert page.locator(".message").inner_text() == "Saved “Annual leave”."

    annual.refresh_from_db()
    assert (annual.approval_steps, annual.carry_over_cap, annual.accrual_days) == (
        ["manager", "hr"],
        Decimal(3),
        Decimal(26),
    )
    change = AuditEvent.objects.get(action="people.leavetype.change")
    assert change.changes == {
        "accrual_days": ["25", "26"],
        "carry_over_cap": ["5", "3"],
        "approval_steps": [["manager"], ["manager", "hr"]],
    }
    assert failures == []


def _release(page: Any, held: list[Any]) -> None:
    """Let the one held check through and wait until the page has handled its answer."""
    for _ in range(1000):
        if held:
            break
        page.wait_for_timeout(10)
    assert len(held) == 1, "no check was sent"
    with page.expect_response(lambda response: response.request.header_value("hx-request") == "true"):
        held.pop().continue_()
    page.wait_for_function("() => document.querySelector('#leave-type-form.htmx-request') === null")
