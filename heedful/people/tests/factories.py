from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from heedful.people.models import Employee, LeaveType, PublicHoliday, Team


class TeamFactory(DjangoModelFactory[Team]):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class EmployeeFactory(DjangoModelFactory[Employee]):
    class Meta:
        model = Employee

    first_name = factory.Sequence(lambda n: f"Person{n}")
    last_name = "Example"
    email = factory.Sequence(lambda n: f"person{n}@staff.example.com")
    start_date = date(2020, 1, 1)
    region = "DE-BE"


class LeaveTypeFactory(DjangoModelFactory[LeaveType]):
    class Meta:
        model = LeaveType
        django_get_or_create = ("name",)

    name = "Annual leave"
    accrual_days = Decimal(25)
    accrual_period = "year"
    carry_over_cap = Decimal(5)
    allow_negative = False
    approval_steps = factory.LazyFunction(lambda: ["manager", "hr"])


class PublicHolidayFactory(DjangoModelFactory[PublicHoliday]):
    class Meta:
        model = PublicHoliday

    region = "DE-BE"
    name = "Holiday"
