"""Existing requests get their days split by year; one over New Year is recounted per year unless
the recount no longer matches what its owner was told it cost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from heedful.people.models import LeaveRequest

BEFORE = [("people", "0004_leaverequest_add_days_by_year")]
AFTER = [("people", "0005_fill_days_by_year")]


@pytest.mark.django_db(transaction=True)
def test_the_fill_splits_requests_over_new_year_and_keeps_those_that_no_longer_add_up() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    employee = old.get_model("people", "Employee").objects.create(
        first_name="Eli", email="eli@example.com", start_date=date(2020, 1, 1), region="DE-BE"
    )
    annual = old.get_model("people", "LeaveType").objects.create(name="Annual leave", accrual_days=25)
    old.get_model("people", "PublicHoliday").objects.create(
        region="DE-BE", date=date(2027, 1, 1), name="New Year"
    )
    Request = old.get_model("people", "LeaveRequest")

    def request(start: date, end: date, days: str, **flags: Any) -> int:
        row = Request.objects.create(
            employee=employee, leave_type=annual, start_date=start, end_date=end, days=Decimal(days), **flags
        )
        return int(row.pk)

    june = request(date(2026, 6, 1), date(2026, 6, 2), "2")
    new_year = request(date(2026, 12, 30), date(2027, 1, 5), "3.5", end_half=True)
    # Asked for before New Year's Day was entered: 5 days then, 4 by today's holidays.
    before_holiday = request(date(2026, 12, 31), date(2027, 1, 6), "5")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    split = dict(LeaveRequest.objects.values_list("pk", "days_by_year"))
    assert split == {
        june: {"2026": "2"},
        new_year: {"2026": "2", "2027": "1.5"},
        before_holiday: {"2026": "5"},
    }
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
