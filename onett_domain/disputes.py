"""Disputes about closed months: what a dispute is, and how its adjustment reaches the payouts.

A closed month's payouts are never edited. An adjustment an operator decides on a dispute is recorded in
`payout_adjustments` (source 'dispute', once per dispute) and carried into the next month that closes, exactly
like the adjustments of a recomputation; recomputing the month later never undoes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import duckdb

from onett_domain.money import CURRENCY_DIGITS
from onett_domain.sql import insert_rows

MAX_MESSAGE = 4000


class DisputeError(ValueError):
    """A request the register refuses, with the reason."""


@dataclass(frozen=True)
class Message:
    author: str
    role: str
    written_at: datetime
    text: str


@dataclass(frozen=True)
class Dispute:
    id: int
    contributor_id: str
    period: date
    opened_by: str
    opened_at: datetime
    resolution: str | None  # None while open | no_change | adjustment
    amount: Decimal | None
    currency: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    messages: tuple[Message, ...]

    @property
    def open(self) -> bool:
        return self.resolution is None

    @property
    def answered(self) -> bool:
        """The operator has written since the contributor last did."""
        return bool(self.messages) and self.messages[-1].role == "operator"


def parse_adjustment(text: str, currency: str) -> Decimal:
    """An adjustment amount as an operator types it: a non-zero exact amount in the currency's minor unit."""
    try:
        amount = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise DisputeError(f"the adjustment {text!r} is not an amount") from None
    digits = CURRENCY_DIGITS[currency]
    if not amount.is_finite() or amount == 0 or abs(amount) >= 10 ** 15:
        raise DisputeError("an adjustment must be a non-zero amount below 10^15 (resolve with no change otherwise)")
    if amount != amount.quantize(Decimal(1).scaleb(-digits)):
        raise DisputeError(f"{currency} amounts have {digits} decimal places; {text!r} has more")
    return amount



def record_dispute_adjustments(conn: duckdb.DuckDBPyConnection, resolved: list[Dispute], now: datetime) -> list[list]:
    """Copy the adjustments of resolved disputes not yet in `payout_adjustments`; returns what was recorded as
    [dispute id, contributor, month, amount]. Call inside the transaction that closes or recomputes a month."""
    known = {r[0] for r in conn.execute(
        "SELECT dispute_id FROM payout_adjustments WHERE source = 'dispute'").fetchall()}
    rows = [[d.period, d.contributor_id, d.amount, d.currency,
             f"dispute #{d.id} about {d.period:%Y-%m}, resolved {d.resolved_at:%Y-%m-%d} by {d.resolved_by}",
             now, None, "dispute", d.id]
            for d in resolved if d.resolution == "adjustment" and d.id not in known]
    insert_rows(conn, "INSERT INTO payout_adjustments (period, contributor_id, amount, currency, reason, recorded_at, "
                      "applied_in, source, dispute_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return [[r[8], r[1], f"{r[0]:%Y-%m}", r[2]] for r in rows]
