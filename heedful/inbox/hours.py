"""Business hours and SLA due times: when a person will really answer.

Hours are written like ``"mon-fri 09:00-17:00; sat 10:00-14:00"`` in the business's time zone.
SLA minutes count only while the business is open, so a question handed off on Friday at 16:30
with a four-hour SLA is due on Monday at 12:30, and the customer is told exactly that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_PART = re.compile(r"^\s*([a-z]{3})(?:\s*-\s*([a-z]{3}))?\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class OpeningHours:
    """Opening intervals per weekday (0 = Monday), each (open, close)."""

    days: dict[int, tuple[time, time]]

    @classmethod
    def parse(cls, spec: str) -> OpeningHours:
        """``"mon-fri 09:00-17:00; sat 10:00-14:00"`` → intervals; raises ValueError when unreadable."""
        days: dict[int, tuple[time, time]] = {}
        for part in filter(None, (p.strip().lower() for p in spec.split(";"))):
            found = _PART.match(part)
            if not found:
                raise ValueError(f"Cannot read business hours {part!r} (like 'mon-fri 09:00-17:00')")
            first, last, h1, m1, h2, m2 = found.groups()
            start, end = DAYS.index(first), DAYS.index(last or first)
            opening, closing = time(int(h1), int(m1)), time(int(h2), int(m2))
            if closing <= opening:
                raise ValueError(f"Closing time must be after opening time in {part!r}")
            for day in range(start, end + 1):
                days[day] = (opening, closing)
        if not days:
            raise ValueError("Business hours are empty")
        return cls(days)

    def is_open(self, moment: datetime) -> bool:
        hours = self.days.get(moment.weekday())
        return bool(hours and hours[0] <= moment.time() < hours[1])

    def add_business_minutes(self, start: datetime, minutes: int) -> datetime:
        """The moment ``minutes`` of opening time after ``start`` (aware, business time zone)."""
        moment = start
        remaining = timedelta(minutes=minutes)
        for _ in range(366 * 2):  # at most two years of days: a malformed spec cannot loop forever
            hours = self.days.get(moment.weekday())
            if hours:
                opening = moment.replace(hour=hours[0].hour, minute=hours[0].minute, second=0, microsecond=0)
                closing = moment.replace(hour=hours[1].hour, minute=hours[1].minute, second=0, microsecond=0)
                begin = max(moment, opening)
                if begin < closing:
                    if begin + remaining <= closing:
                        return begin + remaining
                    remaining -= closing - begin
            next_day = (moment + timedelta(days=1)).date()
            moment = datetime.combine(next_day, time(0, 0), tzinfo=moment.tzinfo)
        raise ValueError("No opening hours found within two years")

    def describe(self) -> str:
        """``"Mon–Fri 09:00–17:00"`` for the customer."""
        groups: list[tuple[int, int, tuple[time, time]]] = []
        for day in sorted(self.days):
            if groups and groups[-1][1] == day - 1 and groups[-1][2] == self.days[day]:
                groups[-1] = (groups[-1][0], day, groups[-1][2])
            else:
                groups.append((day, day, self.days[day]))
        parts = []
        for first, last, (opening, closing) in groups:
            names = DAYS[first].title() if first == last else f"{DAYS[first].title()}–{DAYS[last].title()}"
            parts.append(f"{names} {opening:%H:%M}–{closing:%H:%M}")
        return ", ".join(parts)


def due_at(spec: str, tz_name: str, start: datetime, minutes: int) -> datetime:
    tz = ZoneInfo(tz_name)
    return OpeningHours.parse(spec).add_business_minutes(start.astimezone(tz), minutes)


def when_in_words(due: datetime, now: datetime, tz_name: str) -> str:
    """``"today by 14:30"``, ``"tomorrow by 09:30"``, ``"on Monday 3 March by 12:30"``."""
    tz = ZoneInfo(tz_name)
    local_due, local_now = due.astimezone(tz), now.astimezone(tz)
    days = (local_due.date() - local_now.date()).days
    clock = f"{local_due:%H:%M}"
    if days <= 0:
        return f"today by {clock}"
    if days == 1:
        return f"tomorrow by {clock}"
    return f"on {_day_name(local_due.date())} by {clock}"


def _day_name(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def overdue_in_words(delta: timedelta) -> str:
    """A late span in plain words, to the minute: ``"2 h 10 min"``, ``"1 d 3 h"``, ``"45 min"``."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours_, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours_} h" if hours_ else f"{days} d"
    if hours_:
        return f"{hours_} h {minutes} min" if minutes else f"{hours_} h"
    return f"{minutes} min"
