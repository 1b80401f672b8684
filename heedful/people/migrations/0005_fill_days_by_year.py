"""Split the days of existing leave requests by calendar year.

Requests within one year get {year: days}. A request over New Year is recounted per year with
the region's holidays as they are now; if that no longer adds up to the days stored when it was
asked for (a holiday added since), it keeps counting in its first year, as it did before: a
migration should not change what someone was told they spent.

The day counting is written out here rather than imported, so this file keeps working whatever
``leave_math`` becomes later.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import migrations

HALF = Decimal("0.5")


def _working(start: date, end: date, holidays: set[date], start_half: bool, end_half: bool) -> Decimal:
    def working(day: date) -> bool:
        return day.weekday() < 5 and day not in holidays

    total = Decimal(sum(1 for n in range((end - start).days + 1) if working(start + timedelta(days=n))))
    if start == end:
        return HALF if (start_half or end_half) and total else total
    return total - HALF * ((start_half and working(start)) + (end_half and working(end)))


def _text(days: Decimal) -> str:
    return f"{days.normalize():f}"  # "2", "1.5": as the service writes them


def fill(apps: Any, schema_editor: Any) -> None:
    LeaveRequest = apps.get_model("people", "LeaveRequest")
    PublicHoliday = apps.get_model("people", "PublicHoliday")
    for request in LeaveRequest.objects.select_related("employee").iterator():
        split = {str(request.start_date.year): _text(request.days)}
        if request.end_date.year != request.start_date.year:
            holidays = set(
                PublicHoliday.objects.filter(
                    region=request.employee.region, date__range=(request.start_date, request.end_date)
                ).values_list("date", flat=True)
            )
            parts = {}
            for year in range(request.start_date.year, request.end_date.year + 1):
                first = max(request.start_date, date(year, 1, 1))
                last = min(request.end_date, date(year, 12, 31))
                days = _working(
                    first,
                    last,
                    holidays,
                    request.start_half and first == request.start_date,
                    request.end_half and last == request.end_date,
                )
                if days:
                    parts[str(year)] = _text(days)
            if sum(Decimal(d) for d in parts.values()) == request.days:
                split = parts
        request.days_by_year = split
        request.save(update_fields=["days_by_year"])


class Migration(migrations.Migration):
    dependencies = [("people", "0004_leaverequest_add_days_by_year")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
