"""The consumer's API revenue: daily usage CSVs `date,requests,input_tokens,output_tokens,revenue`."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from dagster import ConfigurableResource

from onett_domain.revenue import RevenueDay

HEADER = ["date", "requests", "input_tokens", "output_tokens", "revenue"]


class RevenueError(ValueError):
    """A revenue file is malformed. Money is never guessed: the message names the file and line to fix."""


def _parse_row(row: dict[str, str], where: str) -> tuple[date, int, int, int, Decimal]:
    try:
        day = date.fromisoformat(row["date"].strip())
    except ValueError:
        raise RevenueError(f"{where}: date {row['date']!r} is not YYYY-MM-DD") from None
    counts = []
    for column in ("requests", "input_tokens", "output_tokens"):
        text = row[column].strip()
        if not text.isdigit():
            raise RevenueError(f"{where}: {column} {text!r} is not a non-negative whole number")
        counts.append(int(text))
    text = row["revenue"].strip()
    try:
        revenue = Decimal(text)
    except InvalidOperation:
        raise RevenueError(f"{where}: revenue {text!r} is not a decimal number") from None
    if not revenue.is_finite() or revenue < 0:
        raise RevenueError(f"{where}: revenue {text!r} must be a non-negative amount")
    if revenue.as_tuple().exponent < -10:
        raise RevenueError(f"{where}: revenue {text!r} has more than 10 decimal places")
    return day, counts[0], counts[1], counts[2], revenue


class RevenueSource(ConfigurableResource):
    """A folder of daily usage CSVs exported by the consumer's billing system."""

    path: str

    def files(self) -> list[Path]:
        root = Path(self.path)
        if not root.is_dir():
            return []
        return sorted(p for p in root.rglob("*.csv") if p.is_file() and not p.name.startswith("."))

    def days(self) -> list[RevenueDay]:
        """All days of all files; a day reported twice is an error, not a sum."""
        seen: dict[date, str] = {}
        days: list[RevenueDay] = []
        for path in self.files():
            name = path.relative_to(self.path).as_posix()
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                if [c.strip() for c in reader.fieldnames or []] != HEADER:
                    raise RevenueError(f"{name}: header must be {','.join(HEADER)} (found {reader.fieldnames})")
                for row in reader:
                    where = f"{name} line {reader.line_num}"
                    if None in row or any(v is None for v in row.values()):
                        raise RevenueError(f"{where}: expected {len(HEADER)} columns")
                    day, requests, input_tokens, output_tokens, revenue = _parse_row(row, where)
                    if day in seen:
                        raise RevenueError(f"{where}: {day} is already reported in {seen[day]}")
                    seen[day] = where
                    days.append(RevenueDay(day, requests, input_tokens, output_tokens, revenue, name))
        return sorted(days, key=lambda d: d.date)

    def days_between(self, start: date, end: date) -> list[RevenueDay]:
        return [d for d in self.days() if start <= d.date < end]
