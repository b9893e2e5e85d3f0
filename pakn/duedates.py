"""Due dates in working days with Vietnamese public holidays.

Nghị định 20/2008/NĐ-CP (amended by 48/2013 and 92/2017) counts in working days: a PAKN on
administrative regulations is processed within 10 working days of receipt; a body without
competence forwards it within 05 working days. The counts are data (`knowledge/routing.yaml`);
this module only knows the calendar: weekends and the holidays of the `holidays` package (VN,
including Tết and substituted days off) are skipped.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=32)
def _vn_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=year))


def is_working_day(d: date) -> bool:
    """Monday–Friday and not a Vietnamese public holiday."""
    return d.weekday() < 5 and d not in _vn_holidays(d.year)


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (the day of receipt itself is not counted)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    d = start
    remaining = days
    while remaining:
        d += timedelta(days=1)
        if is_working_day(d):
            remaining -= 1
    return d


def due_at(received: datetime, working_days: int, *, tz: str = "Asia/Ho_Chi_Minh",
           due_time: str = "17:00") -> datetime:
    """End of the `working_days`-th working day after receipt, timezone-aware in `tz`.

    A naive `received` is taken as local time in `tz` (the office's clock).
    """
    zone = ZoneInfo(tz)
    local = received.replace(tzinfo=zone) if received.tzinfo is None else received.astimezone(zone)
    day = add_working_days(local.date(), working_days)
    hh, mm = (int(x) for x in due_time.split(":"))
    return datetime.combine(day, time(hh, mm), tzinfo=zone)
