"""The consumer's API revenue: one row per day, R_API of a month is the sum of its days."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class RevenueDay:
    date: date
    requests: int
    input_tokens: int
    output_tokens: int
    revenue: Decimal  # major currency unit, exactly as reported
    source_file: str


def revenue_fingerprint(days: list[RevenueDay]) -> str:
    """What a month's revenue was loaded from: changes whenever any of its days' figures change."""
    digest = hashlib.sha256()
    for d in days:
        digest.update(f"{d.date}\t{d.requests}\t{d.input_tokens}\t{d.output_tokens}\t{d.revenue}\n".encode())
    return digest.hexdigest()


def by_month(days: list[RevenueDay]) -> dict[date, list[RevenueDay]]:
    months: dict[date, list[RevenueDay]] = defaultdict(list)
    for day in days:
        months[day.date.replace(day=1)].append(day)
    return dict(months)


def months_changed(days: list[RevenueDay], loaded: dict[date, str | None]) -> list[tuple[date, str]]:
    """(month, fingerprint) of every month whose daily rows differ from the fingerprint it was last loaded with."""
    current = {month: revenue_fingerprint(month_days) for month, month_days in by_month(days).items()}
    return [(month, fp) for month, fp in sorted(current.items()) if loaded.get(month) != fp]
