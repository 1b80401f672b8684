"""Leave arithmetic: working days and balances. Plain functions, no ORM.

Kept free of Django so the property tests (``tests/test_leave_math_properties.py``) can run
thousands of cases in seconds; ``services``/``queries`` turn rows into these values and back.

The balance rule, per leave year (calendar year)::

    available = carried over + accrued − used

* *accrued*: ``YEAR`` policies credit the whole entitlement on 1 January (pro rata by months in
  the year someone starts); ``MONTH`` policies credit one twelfth per month worked, the start
  month included, up to the month of ``as_of``. Rounded to hundredths once per year, never per
  month, so twelve months add up to exactly the yearly figure.
* *used*: the days of every booking dated in that year (approved and pending requests, whose
  days are reserved, plus adjustments; a negative booking gives days back). A request that
  spans New Year is one booking per year (``split_by_year``): 30 December – 5 January spends
  December's working days from the old year and January's from the new.
* *carried over*: what was available at the end of the previous year, capped by the policy's
  carry-over cap when positive. A negative balance is carried in full: a debt does not lapse.

Cancelling a request removes its booking, so a cancellation is arithmetic, not a special case.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

HALF = Decimal("0.5")
ZERO = Decimal(0)
CENT = Decimal("0.01")
WEEKEND = frozenset({5, 6})


def is_working_day(day: date, holidays: Collection[date] = (), weekend: Collection[int] = WEEKEND) -> bool:
    return day.weekday() not in weekend and day not in holidays


def working_days(
    start: date,
    end: date,
    *,
    holidays: Collection[date] = (),
    start_half: bool = False,
    end_half: bool = False,
    weekend: Collection[int] = WEEKEND,
) -> Decimal:
    """Working days from ``start`` to ``end`` inclusive, half days counting 0.5.

    A half day on a weekend or holiday costs nothing; a one-day request with either half flag
    costs half a day.

    >>> working_days(date(2026, 12, 24), date(2026, 12, 28), holidays={date(2026, 12, 25)})
    Decimal('2')
    """
    if end < start:
        raise ValueError("the last day is before the first day")
    total = ZERO
    day = start
    while day <= end:
        if is_working_day(day, holidays, weekend):
            total += 1
        day += timedelta(days=1)
    if start == end:
        return HALF if (start_half or end_half) and total else total
    if start_half and is_working_day(start, holidays, weekend):
        total -= HALF
    if end_half and is_working_day(end, holidays, weekend):
        total -= HALF
    return total


@dataclass(frozen=True)
class Policy:
    accrual_days: Decimal
    accrual_period: str = "year"  # "year" | "month"
    carry_over_cap: Decimal | None = None  # None: no limit
    allow_negative: bool = False


@dataclass(frozen=True)
class Booking:
    """Days that count against the balance of ``on``'s year (negative: days given back)."""

    on: date
    days: Decimal


@dataclass(frozen=True)
class Balance:
    year: int
    carried_over: Decimal
    accrued: Decimal
    used: Decimal

    @property
    def available(self) -> Decimal:
        return self.carried_over + self.accrued - self.used


def split_by_year(
    start: date,
    end: date,
    *,
    holidays: Collection[date] = (),
    start_half: bool = False,
    end_half: bool = False,
    weekend: Collection[int] = WEEKEND,
) -> list[Booking]:
    """The working days of ``start`` … ``end`` per calendar year, as bookings dated on the first
    day of each year's part (only the year counts); years without a working day are left out.

    The first day's half flag belongs to the first part and the last day's to the last, so the
    parts always add up to ``working_days`` of the whole range.

    >>> parts = split_by_year(date(2026, 12, 30), date(2027, 1, 5), holidays={date(2027, 1, 1)})
    >>> [(part.on.isoformat(), part.days) for part in parts]
    [('2026-12-30', Decimal('2')), ('2027-01-01', Decimal('2'))]
    """
    if end < start:
        raise ValueError("the last day is before the first day")
    parts = []
    for year in range(start.year, end.year + 1):
        first, last = max(start, date(year, 1, 1)), min(end, date(year, 12, 31))
        days = working_days(
            first,
            last,
            holidays=holidays,
            start_half=start_half and first == start,
            end_half=end_half and last == end,
            weekend=weekend,
        )
        if days:
            parts.append(Booking(on=first, days=days))
    return parts


def accrued_in_year(policy: Policy, start_date: date, year: int, as_of: date) -> Decimal:
    """What the policy credits in ``year`` for someone who started on ``start_date``."""
    if year < start_date.year or year > as_of.year:
        return ZERO
    first_month = start_date.month if year == start_date.year else 1
    # Monthly accrual stops at the month of as_of; a yearly entitlement is there in full.
    last_month = as_of.month if policy.accrual_period == "month" and year == as_of.year else 12
    months = max(0, last_month - first_month + 1)
    return (policy.accrual_days * months / 12).quantize(CENT, rounding=ROUND_HALF_UP)


def balance_on(policy: Policy, start_date: date, as_of: date, bookings: Iterable[Booking]) -> Balance:
    """The balance for ``as_of``'s year, counting every booking up to the end of that year."""
    used_by_year: dict[int, Decimal] = {}
    for booking in bookings:
        if booking.on.year <= as_of.year:
            used_by_year[booking.on.year] = used_by_year.get(booking.on.year, ZERO) + booking.days
    first_year = min([start_date.year, as_of.year, *used_by_year])
    carried = ZERO
    for year in range(first_year, as_of.year):
        end = carried + accrued_in_year(policy, start_date, year, as_of) - used_by_year.get(year, ZERO)
        carried = cap_carry_over(policy, end)
    return Balance(
        year=as_of.year,
        carried_over=carried,
        accrued=accrued_in_year(policy, start_date, as_of.year, as_of),
        used=used_by_year.get(as_of.year, ZERO),
    )


def cap_carry_over(policy: Policy, year_end: Decimal) -> Decimal:
    if year_end <= 0 or policy.carry_over_cap is None:
        return year_end
    return min(year_end, policy.carry_over_cap)


def can_take(policy: Policy, balance: Balance, days: Decimal) -> bool:
    """Whether ``days`` more fit the balance (always, when the policy allows going negative)."""
    return policy.allow_negative or balance.available - days >= 0
