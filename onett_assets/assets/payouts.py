"""Per month: contribution_ratios -> payouts. R_i = T_i / sum_j T_j x R_API x alpha, exactly.

A month is closed (published) the first time its payouts are computed. After that its numbers never change
silently: a recomputation that would pay differently (a preprocessing fix, a late upload, corrected revenue)
is recorded as an adjustment per contributor and carried into the payout of the next month that closes.
"""

from datetime import date, datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from dagster import (
    AssetDep,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    MultiToSingleDimensionPartitionMapping,
    asset,
)

from onett_assets.assets.revenue import month_bounds
from onett_assets.money import allocate, pool_minor, ratio, to_major
from onett_assets.partitions import period_partitions
from onett_assets.reporting import markdown_table
from onett_resources import Platform, Warehouse
from onett_resources.warehouse import insert_rows, transaction

GROUP = "payouts"


def month_end(period: date, tz: ZoneInfo | str) -> datetime:
    """The instant the month ends: midnight starting the next month in the platform time zone."""
    return datetime.combine(month_bounds(period)[1], time(), tzinfo=ZoneInfo(tz) if isinstance(tz, str) else tz)


def accepted_tokens_through(conn, period: date, tz: ZoneInfo | str | None = None) -> dict[str, int]:
    """T_i for the period: the tokens of every document earning at the end of the period (in the platform time
    zone, `ONETT_TIMEZONE` when not given): accepted, submitted up to then (data keeps earning after the month it
    arrived in), earning by then (a copy whose earlier copies were all withdrawn earns from the last withdrawal
    on) and not withdrawn before then (a withdrawn file stops earning from the month it was withdrawn in)."""
    if tz is None:
        from onett_resources.settings import load_settings

        tz = load_settings().tz
    end = month_end(period, tz)
    rows = conn.execute(
        """SELECT contributor_id, sum(tokens)::BIGINT FROM documents
           WHERE status = 'accepted' AND period <= $period
             AND (earns_from IS NULL OR earns_from < $end) AND (withdrawn_at IS NULL OR withdrawn_at >= $end)
           GROUP BY 1 HAVING sum(tokens) > 0 ORDER BY 1""",
        {"period": period, "end": end},
    ).fetchall()
    return {c: int(t) for c, t in rows}


def closed_at(conn, period: date) -> datetime | None:
    row = conn.execute("SELECT closed_at FROM payout_periods WHERE period = ?", [period]).fetchone()
    return row[0] if row else None


@asset(
    group_name=GROUP,
    partitions_def=period_partitions,
    deps=[AssetDep("token_counts", partition_mapping=MultiToSingleDimensionPartitionMapping(partition_dimension_name="period"))],
    kinds={"duckdb"},
    pool="duckdb",
)
def contribution_ratios(context: AssetExecutionContext, warehouse: Warehouse, platform: Platform) -> MaterializeResult:
    """Each contributor's data contribution ratio for the month: accepted tokens from all their
    submissions up to the end of the month (T_i; data keeps earning after the month it arrived, until its
    file is withdrawn), over the sum for all contributors. Frozen once the month is closed."""
    period = date.fromisoformat(context.partition_key)
    with warehouse.connection() as conn, transaction(conn):
        tokens = accepted_tokens_through(conn, period, platform.tz)
        total = sum(tokens.values())
        rows = [[period, c, t, ratio(t, total)] for c, t in sorted(tokens.items())]
        frozen = closed_at(conn, period)
        if frozen is None:
            conn.execute("DELETE FROM contribution_ratios WHERE period = ?", [period])
            insert_rows(conn, "INSERT INTO contribution_ratios VALUES (?, ?, ?, ?)", rows)
        else:
            published = conn.execute(
                "SELECT contributor_id, tokens FROM contribution_ratios WHERE period = ? ORDER BY 1", [period]
            ).fetchall()
    metadata = {
        "contributors": len(rows),
        "total tokens (sum T_j)": total,
        "ratios": MetadataValue.md(markdown_table(["contributor", "tokens (T_i)", "ratio"], [r[1:] for r in rows])),
    }
    if frozen is not None:
        changed = dict(published) != tokens
        metadata["frozen"] = (f"closed {frozen:%Y-%m-%d}: published ratios kept"
                              + ("; the recomputed ones above differ (see payout adjustments)" if changed else ", unchanged"))
    return MaterializeResult(metadata=metadata)


@asset(
    group_name=GROUP,
    partitions_def=period_partitions,
    deps=[AssetDep("contribution_ratios"), AssetDep("api_revenue")],
    kinds={"duckdb"},
    pool="duckdb",
)
def payouts(context: AssetExecutionContext, warehouse: Warehouse, platform: Platform) -> MaterializeResult:
    """What each contributor is paid for the month. pool = R_API x alpha, rounded down to the currency's
    minor unit; it is split in proportion to T_i by largest remainder, so the amounts sum exactly to the
    pool, with ties settled by more tokens, then contributor id. Adjustments recorded for earlier closed
    months are carried in. Once closed, a month's payouts are frozen: recomputing records adjustments."""
    period = date.fromisoformat(context.partition_key)
    start, end = month_bounds(period)
    alpha, digits, currency = platform.alpha_decimal, platform.currency_digits, platform.currency
    now = datetime.now(timezone.utc)
    with warehouse.connection() as conn, transaction(conn):
        revenue = Decimal(conn.execute(
            "SELECT coalesce(sum(revenue), 0) FROM api_revenue WHERE date >= ? AND date < ?", [start, end]
        ).fetchone()[0])
        tokens = accepted_tokens_through(conn, period, platform.tz)
        pool = pool_minor(revenue, alpha, digits)
        shares = allocate(pool, tokens)
        frozen = closed_at(conn, period)
        if frozen is None:
            rows, allocated = publish(conn, period, shares, tokens, revenue, alpha, pool, digits, currency, now)
            adjustments = []
        else:
            adjustments = record_adjustments(conn, period, shares, digits, currency, now, frozen)
            rows = conn.execute(
                "SELECT period, contributor_id, tokens, ratio, amount, currency, adjustment FROM payouts WHERE period = ? ORDER BY contributor_id",
                [period],
            ).fetchall()
            allocated = sum(round(Decimal(r[4]).scaleb(digits)) for r in rows)
    if not shares:
        context.log.warning(f"{period:%Y-%m}: no accepted tokens, the pool of {to_major(pool, digits)} {currency} is not allocated")
    metadata = {
        "revenue (R_API)": f"{revenue} {currency}",
        "alpha": str(alpha),
        "pool": f"{to_major(pool, digits)} {currency}",
        "allocated": f"{to_major(allocated, digits)} {currency}",
        "contributors paid": len(rows),
        "payouts": MetadataValue.md(markdown_table(
            ["contributor", "tokens", "ratio", f"amount ({currency})", "adjustment carried in"],
            [[r[1], r[2], r[3], r[4], r[6]] for r in rows])),
    }
    if frozen is not None:
        metadata["frozen"] = f"closed {frozen:%Y-%m-%d}: published payouts kept"
        metadata["adjustments recorded"] = MetadataValue.md(
            markdown_table(["contributor", f"adjustment ({currency})"], adjustments) if adjustments else "none: nothing changed")
    return MaterializeResult(metadata=metadata)


def publish(conn, period, shares, tokens, revenue, alpha, pool, digits, currency, now):
    """Close the month: its payouts, the adjustments it carries in, and its pool row."""
    total = sum(tokens.values())
    conn.execute("UPDATE payout_adjustments SET applied_in = ? WHERE applied_in IS NULL AND period < ?", [period, period])
    carried = dict(conn.execute(
        "SELECT contributor_id, sum(amount) FROM payout_adjustments WHERE applied_in = ? GROUP BY 1", [period]
    ).fetchall())
    amounts = {s.contributor_id: s.minor for s in shares}
    rows = [
        [period, c, tokens.get(c, 0), ratio(tokens.get(c, 0), total), to_major(amounts.get(c, 0), digits), currency,
         Decimal(carried.get(c, 0))]
        for c in sorted(set(amounts) | set(carried))
    ]
    conn.execute("DELETE FROM payouts WHERE period = ?", [period])
    insert_rows(conn, "INSERT INTO payouts (period, contributor_id, tokens, ratio, amount, currency, adjustment) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    allocated = sum(amounts.values())
    conn.execute("DELETE FROM payout_periods WHERE period = ?", [period])
    conn.execute(
        "INSERT INTO payout_periods VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [period, revenue, alpha, to_major(pool, digits), to_major(allocated, digits), currency, len(shares),
         total, now],
    )
    return rows, allocated


def record_adjustments(conn, period, shares, digits, currency, now, frozen) -> list[list]:
    """Owed now minus paid (published amount plus adjustments already carried) per contributor, replacing the
    not-yet-carried adjustments of this month: recomputing twice never doubles an adjustment."""
    paid = {c: round(Decimal(a).scaleb(digits)) for c, a in conn.execute(
        "SELECT contributor_id, amount FROM payouts WHERE period = ?", [period]).fetchall()}
    for c, a in conn.execute(
        "SELECT contributor_id, sum(amount) FROM payout_adjustments WHERE period = ? AND applied_in IS NOT NULL GROUP BY 1",
        [period],
    ).fetchall():
        paid[c] = paid.get(c, 0) + round(Decimal(a).scaleb(digits))
    owed = {s.contributor_id: s.minor for s in shares}
    diffs = [[c, owed.get(c, 0) - paid.get(c, 0)] for c in sorted(set(owed) | set(paid))]
    diffs = [[c, d] for c, d in diffs if d != 0]
    conn.execute("DELETE FROM payout_adjustments WHERE period = ? AND applied_in IS NULL", [period])
    reason = f"{period:%Y-%m} (closed {frozen:%Y-%m-%d}) recomputed on {now:%Y-%m-%d}"
    insert_rows(conn, 
        "INSERT INTO payout_adjustments VALUES (?, ?, ?, ?, ?, ?, NULL)",
        [[period, c, to_major(d, digits), currency, reason, now] for c, d in diffs],
    )
    return [[c, to_major(d, digits)] for c, d in diffs]
