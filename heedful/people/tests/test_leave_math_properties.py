"""Property tests for the balance arithmetic: accruals, carry-over, half days, requests over New
Year and cancellations."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from heedful.people.leave_math import (
    HALF,
    Balance,
    Booking,
    Policy,
    accrued_in_year,
    balance_on,
    can_take,
    split_by_year,
    working_days,
)

FAST = settings(max_examples=200, deadline=None)

days_in_range = st.dates(min_value=date(2022, 1, 1), max_value=date(2027, 12, 31))
half_days = st.integers(min_value=-4, max_value=40).map(lambda n: Decimal(n) * HALF)
policies = st.builds(
    Policy,
    accrual_days=st.integers(min_value=0, max_value=60).map(Decimal),
    accrual_period=st.sampled_from(["year", "month"]),
    carry_over_cap=st.one_of(st.none(), st.integers(min_value=0, max_value=15).map(Decimal)),
    allow_negative=st.booleans(),
)
bookings = st.lists(st.builds(Booking, on=days_in_range, days=half_days), max_size=12)
holiday_sets = st.frozensets(days_in_range, max_size=20)


@FAST
@given(policies, days_in_range, days_in_range, bookings, st.integers(min_value=0, max_value=364), half_days)
def test_cancelling_a_request_in_the_current_year_gives_back_exactly_its_days(
    policy: Policy, start: date, as_of: date, others: list[Booking], day_of_year: int, days: Decimal
) -> None:
    extra = Booking(on=date(as_of.year, 1, 1) + timedelta(days=day_of_year), days=days)
    with_it = balance_on(policy, start, as_of, [*others, extra])
    cancelled = balance_on(policy, start, as_of, others)
    assert cancelled.available - with_it.available == extra.days


@FAST
@given(policies, days_in_range, days_in_range, bookings, st.builds(Booking, on=days_in_range, days=half_days))
def test_cancelling_an_earlier_years_request_restores_between_nothing_and_its_days(
    policy: Policy, start: date, as_of: date, others: list[Booking], extra: Booking
) -> None:
    if extra.on.year >= as_of.year or extra.days < 0:
        return
    with_it = balance_on(policy, start, as_of, [*others, extra]).available
    cancelled = balance_on(policy, start, as_of, others).available
    # The carry-over cap may swallow some or all of what the cancellation gives back.
    assert Decimal(0) <= cancelled - with_it <= extra.days


@FAST
@given(policies, days_in_range, days_in_range, bookings, st.randoms(use_true_random=False))
def test_the_order_of_bookings_does_not_matter(
    policy: Policy, start: date, as_of: date, booked: list[Booking], rnd: object
) -> None:
    shuffled = list(booked)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert balance_on(policy, start, as_of, booked) == balance_on(policy, start, as_of, shuffled)


@FAST
@given(policies, days_in_range, days_in_range, bookings)
def test_carry_over_never_exceeds_the_cap(
    policy: Policy, start: date, as_of: date, booked: list[Booking]
) -> None:
    carried = balance_on(policy, start, as_of, booked).carried_over
    if policy.carry_over_cap is not None:
        assert carried <= policy.carry_over_cap


@FAST
@given(policies, days_in_range, days_in_range)
def test_without_bookings_the_balance_is_the_capped_sum_of_accruals(
    policy: Policy, start: date, as_of: date
) -> None:
    expected = Decimal(0)
    for year in range(min(start.year, as_of.year), as_of.year):
        expected += accrued_in_year(policy, start, year, as_of)
        if policy.carry_over_cap is not None:
            expected = min(expected, policy.carry_over_cap)
    expected += accrued_in_year(policy, start, as_of.year, as_of)
    assert balance_on(policy, start, as_of, []).available == expected


@FAST
@given(policies, st.integers(min_value=2022, max_value=2027))
def test_a_full_year_of_monthly_accrual_adds_up_to_the_yearly_entitlement(policy: Policy, year: int) -> None:
    assert accrued_in_year(policy, date(year - 1, 6, 1), year, date(year, 12, 31)) == policy.accrual_days


@FAST
@given(policies, days_in_range, bookings, st.integers(min_value=0, max_value=364))
def test_within_a_year_the_balance_never_falls_as_time_passes(
    policy: Policy, start: date, booked: list[Booking], offset: int
) -> None:
    early = date(2026, 1, 1) + timedelta(days=offset // 2)
    late = date(2026, 1, 1) + timedelta(days=offset)
    assert (
        balance_on(policy, start, late, booked).available
        >= balance_on(policy, start, early, booked).available
    )


@FAST
@given(policies, half_days, half_days)
def test_a_policy_without_negative_balances_refuses_what_does_not_fit(
    policy: Policy, available: Decimal, wanted: Decimal
) -> None:
    balance = Balance(year=2026, carried_over=Decimal(0), accrued=available, used=Decimal(0))
    assert can_take(policy, balance, wanted) == (policy.allow_negative or available - wanted >= 0)


@FAST
@given(
    days_in_range,
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=40),
    holiday_sets,
)
def test_working_days_add_up_when_a_request_is_split(
    start: date, first: int, second: int, holidays: frozenset[date]
) -> None:
    middle = start + timedelta(days=first)
    end = middle + timedelta(days=1 + second)
    whole = working_days(start, end, holidays=holidays)
    assert whole == working_days(start, middle, holidays=holidays) + working_days(
        middle + timedelta(days=1), end, holidays=holidays
    )
    assert 0 <= whole <= (end - start).days + 1


@FAST
@given(days_in_range, st.integers(min_value=1, max_value=40), holiday_sets, st.booleans(), st.booleans())
def test_each_half_day_on_a_working_day_costs_exactly_half(
    start: date, length: int, holidays: frozenset[date], start_half: bool, end_half: bool
) -> None:
    end = start + timedelta(days=length)
    full = working_days(start, end, holidays=holidays)
    halved = working_days(start, end, holidays=holidays, start_half=start_half, end_half=end_half)
    saved = HALF * (
        (start_half and start.weekday() < 5 and start not in holidays)
        + (end_half and end.weekday() < 5 and end not in holidays)
    )
    assert full - halved == saved


def test_a_single_half_day_costs_half_a_day_and_a_holiday_costs_nothing() -> None:
    friday, christmas = date(2026, 12, 18), date(2026, 12, 25)
    assert working_days(friday, friday, start_half=True) == Decimal("0.5")
    assert working_days(christmas, christmas, holidays={christmas}, end_half=True) == Decimal(0)
    assert working_days(date(2026, 12, 21), date(2026, 12, 27), holidays={christmas}) == Decimal(4)


def test_a_new_starter_gets_a_pro_rata_share_and_carries_over_at_most_the_cap() -> None:
    policy = Policy(accrual_days=Decimal(24), accrual_period="year", carry_over_cap=Decimal(5))
    started = date(2025, 10, 15)
    assert balance_on(policy, started, date(2025, 11, 1), []) == Balance(
        2025, Decimal(0), Decimal(6), Decimal(0)
    )
    later = balance_on(policy, started, date(2026, 3, 1), [Booking(date(2025, 12, 22), Decimal(2))])
    assert later == Balance(2026, carried_over=Decimal(4), accrued=Decimal(24), used=Decimal(0))
    assert later.available == Decimal(28)


@FAST
@given(days_in_range, st.integers(min_value=0, max_value=400), holiday_sets, st.booleans(), st.booleans())
def test_a_request_split_by_year_adds_up_to_its_working_days_with_one_part_per_year(
    start: date, length: int, holidays: frozenset[date], start_half: bool, end_half: bool
) -> None:
    end = start + timedelta(days=length)
    flags = {"holidays": holidays, "start_half": start_half, "end_half": end_half}
    parts = split_by_year(start, end, **flags)  # type: ignore[arg-type]
    assert sum((part.days for part in parts), Decimal(0)) == working_days(start, end, **flags)  # type: ignore[arg-type]
    years = [part.on.year for part in parts]
    assert years == sorted(set(years))
    assert all(start <= part.on <= end and part.days > 0 for part in parts)
    for part in parts:
        last = min(end, date(part.on.year, 12, 31))
        assert part.days == working_days(
            part.on,
            last,
            holidays=holidays,
            start_half=start_half and part.on == start,
            end_half=end_half and last == end,
        )


# A request from some day in December of one year to some day in January of the next.
new_year_requests = st.builds(
    lambda year, first, last, holidays, start_half, end_half: (
        date(year, 12, 31 - first),
        date(year + 1, 1, 1 + last),
        holidays,
        start_half,
        end_half,
    ),
    st.integers(min_value=2022, max_value=2026),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0, max_value=20),
    holiday_sets,
    st.booleans(),
    st.booleans(),
)


def _parts(request: tuple[date, date, frozenset[date], bool, bool]) -> tuple[Decimal, Decimal, list[Booking]]:
    start, end, holidays, start_half, end_half = request
    parts = split_by_year(start, end, holidays=holidays, start_half=start_half, end_half=end_half)
    old = sum((p.days for p in parts if p.on.year == start.year), Decimal(0))
    new = sum((p.days for p in parts if p.on.year == end.year), Decimal(0))
    return old, new, parts


@FAST
@given(policies, days_in_range, bookings, new_year_requests, st.integers(min_value=0, max_value=364))
def test_cancelling_a_request_over_new_year_gives_the_old_year_exactly_its_part(
    policy: Policy, start: date, others: list[Booking], request: Any, day_of_year: int
) -> None:
    old, _new, parts = _parts(request)
    as_of = date(request[0].year, 1, 1) + timedelta(days=day_of_year)
    with_it = balance_on(policy, start, as_of, [*others, *parts])
    cancelled = balance_on(policy, start, as_of, others)
    # The January days are next year's business: the old year's balance never sees them.
    assert cancelled.available - with_it.available == old
    assert with_it.used - cancelled.used == old


@FAST
@given(policies, days_in_range, bookings, new_year_requests, st.integers(min_value=0, max_value=364))
def test_cancelling_a_request_over_new_year_gives_the_new_year_its_part_and_at_most_the_old_years(
    policy: Policy, start: date, others: list[Booking], request: Any, day_of_year: int
) -> None:
    old, new, parts = _parts(request)
    as_of = date(request[1].year, 1, 1) + timedelta(days=day_of_year)
    with_it = balance_on(policy, start, as_of, [*others, *parts])
    cancelled = balance_on(policy, start, as_of, others)
    assert with_it.used - cancelled.used == new
    # What the December days return reaches the new year through the carry-over cap, if at all.
    assert new <= cancelled.available - with_it.available <= new + old
    if policy.carry_over_cap is None:
        assert cancelled.available - with_it.available == new + old
