"""People personas built on the root ones: Max manages "Packing", where Eli works; Hana is HR."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.people.models import Employee, LeaveType, Team
from heedful.people.tests.factories import EmployeeFactory, LeaveTypeFactory, TeamFactory


@pytest.fixture
def hr(db: Any) -> Any:
    """Hana works in HR: everyone's leave and onboarding, and she is audited when she reads them."""
    return UserFactory(email="hana@example.com", first_name="Hana", role=Role.HR)


@pytest.fixture
def hr_client(hr: Any) -> Client:
    client = Client()
    client.force_login(hr)
    return client


@pytest.fixture
def packing(manager: Any) -> Team:
    team = TeamFactory(name="Packing")
    boss = EmployeeFactory(first_name="Max", email=manager.email, user=manager, team=team)
    team.manager = boss
    team.save(update_fields=["manager"])
    return team


@pytest.fixture
def eli_employee(employee: Any, packing: Team) -> Employee:
    return EmployeeFactory(
        first_name="Eli", email=employee.email, user=employee, team=packing, start_date=date(2026, 1, 1)
    )


@pytest.fixture
def annual(db: Any) -> LeaveType:
    return LeaveTypeFactory()


@pytest.fixture
def other_team(db: Any) -> Team:
    """Care: a team Max does not manage, with Cara in it."""
    team = TeamFactory(name="Care")
    EmployeeFactory(first_name="Cara", team=team)
    return team


@pytest.fixture(autouse=True)
def run_tasks_inline() -> Any:
    """Tasks queued on commit run in the test's process, so their email lands in mail.outbox."""
    from heedful.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
