"""Closing a month: T_i / sum_j T_j x R_API x alpha, exactly.

A month is closed (published) the first time its payouts are computed. After that its numbers never change
silently: a recomputation that would pay differently (a preprocessing fix, a late upload, corrected revenue) is
recorded as an adjustment per contributor and carried into the payout of the next month that closes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb
import polars as pl

from onett_domain.contracts import CONTRIBUTION_RATIOS, PAYOUTS, validate
from onett_domain.earning import CREDITED_TOKENS, EARNING, accepted_tokens_through
from onett_domain.money import Share, allocate, pool_minor, ratio, to_major, to_minor
from onett_domain.periods import month_bounds
from onett_domain.policy import Policy
from onett_domain.sql import insert_rows

RATIO_COLUMNS = {"period": pl.Date, "contributor_id": pl.String, "tokens": pl.Int64, "ratio": pl.Decimal(19, 18)}
PAYOUT_COLUMNS = {**RATIO_COLUMNS, "amount": pl.Decimal(38, 3), "currency": pl.String, "adjustment": pl.Decimal(38, 3)}


def _checked(contract, columns: dict, rows: list[list]) -> None:
    """Rows about to be stored, checked against their data contract (raises ContractViolation)."""
    validate(contract, pl.DataFrame(rows, schema=columns, orient="row"))


def closed_at(conn: duckdb.DuckDBPyConnection, period: date) -> datetime | None:
    row = conn.execute("SELECT closed_at FROM payout_periods WHERE period = ?", [period]).fetchone()
    return row[0] if row else None


@dataclass
class Ratios:
    period: date
    tokens: dict[str, int]  # T_i
    rows: list[list]  # RATIO_COLUMNS, as computed now
    closed: datetime | None  # when the month was closed; its published ratios are kept
    published: dict[str, int] = field(default_factory=dict)  # T_i as published, for a closed month

    @property
    def total(self) -> int:
        return sum(self.tokens.values())


def contribution_ratios(conn: duckdb.DuckDBPyConnection, period: date, policy: Policy) -> Ratios:
    """T_i and T_i / sum_j T_j for the month, computed now; see `store_ratios`."""
    tokens = accepted_tokens_through(conn, period, policy.tz, policy.members)
    total = sum(tokens.values())
    rows = [[period, c, t, ratio(t, total)] for c, t in sorted(tokens.items())]
    closed = closed_at(conn, period)
    published = {}
    if closed is not None:
        published = dict(conn.execute(
            "SELECT contributor_id, tokens FROM contribution_ratios WHERE period = ? ORDER BY 1", [period]).fetchall())
    return Ratios(period, tokens, rows, closed, published)


def store_ratios(conn: duckdb.DuckDBPyConnection, ratios: Ratios) -> None:
    """Replaces the month's ratios, unless it is closed (frozen)."""
    if ratios.closed is None:
        _checked(CONTRIBUTION_RATIOS, RATIO_COLUMNS, ratios.rows)
        conn.execute("DELETE FROM contribution_ratios WHERE period = ?", [ratios.period])
        insert_rows(conn, "INSERT INTO contribution_ratios VALUES (?, ?, ?, ?)", ratios.rows)


@dataclass
class Closing:
    period: date
    revenue: Decimal  # R_API
    pool: int  # minor units
    shares: list[Share]
    tokens: dict[str, int]
    closed: datetime | None  # set when the month was already closed before this computation
    rows: list[list] = field(default_factory=list)  # PAYOUT_COLUMNS as published
    allocated: int = 0  # minor units
    adjustments: list[list] = field(default_factory=list)  # [contributor, amount] recorded by this computation


def close_month(conn: duckdb.DuckDBPyConnection, period: date, policy: Policy, now: datetime) -> Closing:
    """Computes the month's payouts; publishes them if the month is not closed yet, otherwise records adjustments
    for whatever a recomputation would pay differently. Call inside a transaction."""
    start, end = month_bounds(period)
    revenue = Decimal(conn.execute(
        "SELECT coalesce(sum(revenue), 0) FROM api_revenue WHERE date >= ? AND date < ?", [start, end]).fetchone()[0])
    tokens = accepted_tokens_through(conn, period, policy.tz, policy.members)
    pool = pool_minor(revenue, policy.alpha, policy.digits)
    closing = Closing(period, revenue, pool, allocate(pool, tokens), tokens, closed_at(conn, period))
    if closing.closed is None:
        _publish(conn, closing, policy, now)
    else:
        closing.adjustments = _record_adjustments(conn, closing, policy, now)
        closing.rows = [list(r) for r in conn.execute(
            f"SELECT {', '.join(PAYOUT_COLUMNS)} FROM payouts WHERE period = ? ORDER BY contributor_id",
            [period]).fetchall()]
        closing.allocated = sum(to_minor(r[4], policy.digits) for r in closing.rows)
    return closing


def _publish(conn: duckdb.DuckDBPyConnection, closing: Closing, policy: Policy, now: datetime) -> None:
    """Close the month: its payouts, the adjustments it carries in, and its pool row."""
    period, digits = closing.period, policy.digits
    total = sum(closing.tokens.values())
    conn.execute("UPDATE payout_adjustments SET applied_in = ? WHERE applied_in IS NULL AND period < ?",
                 [period, period])
    carried = dict(conn.execute(
        "SELECT contributor_id, sum(amount) FROM payout_adjustments WHERE applied_in = ? GROUP BY 1", [period]
    ).fetchall())
    amounts = {s.contributor_id: s.minor for s in closing.shares}
    closing.rows = [
        [period, c, closing.tokens.get(c, 0), ratio(closing.tokens.get(c, 0), total),
         to_major(amounts.get(c, 0), digits), policy.currency, Decimal(carried.get(c, 0))]
        for c in sorted(set(amounts) | set(carried))
    ]
    _checked(PAYOUTS, PAYOUT_COLUMNS, closing.rows)
    conn.execute("DELETE FROM payouts WHERE period = ?", [period])
    insert_rows(conn, f"INSERT INTO payouts ({', '.join(PAYOUT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)", closing.rows)
    closing.allocated = sum(amounts.values())
    conn.execute("DELETE FROM payout_periods WHERE period = ?", [period])
    conn.execute(
        "INSERT INTO payout_periods VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [period, closing.revenue, policy.alpha, to_major(closing.pool, digits), to_major(closing.allocated, digits),
         policy.currency, len(closing.shares), total, now],
    )


def _record_adjustments(conn: duckdb.DuckDBPyConnection, closing: Closing, policy: Policy, now: datetime) -> list[list]:
    """Owed now minus paid (published amount plus recomputation adjustments already carried) per contributor,
    replacing the not-yet-carried recomputation adjustments of this month: recomputing twice never doubles an
    adjustment, and never undoes one decided on a dispute (onett_domain.disputes)."""
    period, digits = closing.period, policy.digits
    paid = {c: to_minor(a, digits) for c, a in conn.execute(
        "SELECT contributor_id, amount FROM payouts WHERE period = ?", [period]).fetchall()}
    for c, a in conn.execute(
        "SELECT contributor_id, sum(amount) FROM payout_adjustments WHERE period = ? AND applied_in IS NOT NULL "
        "AND source = 'recomputed' GROUP BY 1", [period],
    ).fetchall():
        paid[c] = paid.get(c, 0) + to_minor(a, digits)
    owed = {s.contributor_id: s.minor for s in closing.shares}
    diffs = [[c, owed.get(c, 0) - paid.get(c, 0)] for c in sorted(set(owed) | set(paid))]
    diffs = [[c, d] for c, d in diffs if d != 0]
    conn.execute("DELETE FROM payout_adjustments WHERE period = ? AND applied_in IS NULL AND source = 'recomputed'",
                 [period])
    reason = f"{period:%Y-%m} (closed {closing.closed:%Y-%m-%d}) recomputed on {now:%Y-%m-%d}"
    insert_rows(conn, "INSERT INTO payout_adjustments (period, contributor_id, amount, currency, reason, recorded_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                [[period, c, to_major(d, digits), policy.currency, reason, now] for c, d in diffs])
    return [[c, to_major(d, digits)] for c, d in diffs]


def unrecorded_differences(conn: duckdb.DuckDBPyConnection, period: date, policy: Policy) -> list[tuple[str, Decimal]]:
    """A closed month recomputed now from the documents and revenue, against what it published plus the
    recomputation adjustments recorded for it: (contributor, difference) for every change nobody recorded (a
    published row edited by hand, a lost adjustment). Read only; empty when the books agree."""
    start, end = month_bounds(period)
    revenue = Decimal(conn.execute(
        "SELECT coalesce(sum(revenue), 0) FROM api_revenue WHERE date >= ? AND date < ?", [start, end]).fetchone()[0])
    tokens = accepted_tokens_through(conn, period, policy.tz, policy.members)
    owed = {s.contributor_id: s.minor for s in allocate(pool_minor(revenue, policy.alpha, policy.digits), tokens)}
    paid: dict[str, int] = {}
    for c, a in conn.execute(
            "SELECT contributor_id, amount FROM payouts WHERE period = ? UNION ALL "
            "SELECT contributor_id, amount FROM payout_adjustments WHERE period = ? AND source = 'recomputed'",
            [period, period]).fetchall():
        paid[c] = paid.get(c, 0) + to_minor(a, policy.digits)
    return [(c, to_major(owed.get(c, 0) - paid.get(c, 0), policy.digits)) for c in sorted(set(owed) | set(paid))
            if owed.get(c, 0) != paid.get(c, 0)]


def unbalanced_months(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Months whose payouts do not sum to the pool (when anyone holds tokens) or hold a negative amount."""
    return conn.execute(
        """
        SELECT p.period, p.pool, coalesce(sum(o.amount), 0) AS paid, count(o.contributor_id) AS paid_to,
               min(o.amount) AS smallest
        FROM payout_periods p LEFT JOIN payouts o USING (period)
        GROUP BY p.period, p.pool
        HAVING (count(o.contributor_id) > 0 AND coalesce(sum(o.amount), 0) <> p.pool) OR min(o.amount) < 0
        ORDER BY p.period
        """
    ).fetchall()


def ratio_sums(conn: duckdb.DuckDBPyConnection) -> list[tuple[date, Decimal, int]]:
    """(period, sum of ratios, contributors) per month."""
    return conn.execute(
        "SELECT period, sum(ratio), count(*) FROM contribution_ratios GROUP BY period ORDER BY period").fetchall()


def credited_funnel_mismatches(conn: duckdb.DuckDBPyConnection, limit: int = 20) -> list[tuple]:
    """Submissions whose credited tokens (accepted, file not withdrawn) differ from their funnel's `accepted` stage."""
    return conn.execute(
        f"""
        WITH credited AS (SELECT contributor_id, period, sum({CREDITED_TOKENS}) AS tokens FROM documents
                          WHERE {EARNING} GROUP BY ALL),
             funnel AS (SELECT contributor_id, period, tokens FROM token_funnel WHERE stage = 'accepted')
        SELECT contributor_id, period, coalesce(c.tokens, 0), coalesce(f.tokens, 0)
        FROM credited c FULL JOIN funnel f USING (contributor_id, period)
        WHERE coalesce(c.tokens, 0) <> coalesce(f.tokens, 0)
        ORDER BY ALL LIMIT {int(limit)}
        """
    ).fetchall()
