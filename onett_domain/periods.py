"""Months. Payouts are per calendar month in the platform's time zone; a month is named by its first day, the
`period` column of every table."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


MONTH = re.compile(r"[1-9][0-9]{3}-(0[1-9]|1[0-2])")


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_bounds(period: date) -> tuple[date, date]:
    """[first day, first day of the next month)."""
    days = calendar.monthrange(period.year, period.month)[1]
    return period, period + timedelta(days=days)


def next_month(period: date) -> date:
    return month_bounds(month_of(period))[1]


def month_end(period: date, tz: ZoneInfo) -> datetime:
    """The instant the month ends: midnight starting the next month in the platform time zone."""
    return datetime.combine(next_month(period), time(), tzinfo=tz)


def month_of_instant(instant: datetime, tz: ZoneInfo, first: date) -> date:
    """The month an instant falls in, in the platform time zone (never before the platform's first month)."""
    local = instant.astimezone(tz)
    return max(date(local.year, local.month, 1), first)


def parse_month(text: str) -> date:
    """'YYYY-MM' (or a date in it) -> its first day; ValueError with a message a person can act on."""
    try:
        return date.fromisoformat(text[:7] + "-01")
    except ValueError:
        raise ValueError(f"{text!r} is not a month; use YYYY-MM (e.g. 2026-10)") from None


def exact_month(text: str) -> date | None:
    """'YYYY-MM' in ASCII digits (a URL's or a form's month) -> its first day; None for anything else, including
    year 0 and other scripts' digits."""
    return date.fromisoformat(text + "-01") if MONTH.fullmatch(text or "") else None


def months_between(first: date, last: date) -> list[date]:
    """Every month from `first` to `last`, both included."""
    months, month = [], month_of(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months
