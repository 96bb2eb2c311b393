"""Per month: contribution_ratios -> payouts. R_i = T_i / sum_j T_j x R_API x alpha, exactly."""


from datetime import date, datetime, timezone
from decimal import Decimal

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
from onett_resources.warehouse import transaction

GROUP = "payouts"


def accepted_tokens_through(conn, period: date) -> dict[str, int]:
    """T_i for the period: accepted tokens of every submission up to the end of the period."""
    rows = conn.execute(
        """SELECT contributor_id, sum(tokens)::BIGINT FROM documents
           WHERE status = 'accepted' AND period <= ? GROUP BY 1 HAVING sum(tokens) > 0 ORDER BY 1""",
        [period],
    ).fetchall()
    return {c: int(t) for c, t in rows}


@asset(
    group_name=GROUP,
    partitions_def=period_partitions,
    deps=[AssetDep("token_counts", partition_mapping=MultiToSingleDimensionPartitionMapping(partition_dimension_name="period"))],
    kinds={"duckdb"},
    pool="duckdb",
)
def contribution_ratios(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """Each contributor's data contribution ratio for the month: accepted tokens from all their
    submissions up to the end of the month (T_i; data keeps earning after the month it arrived), over
    the sum for all contributors."""
    period = date.fromisoformat(context.partition_key)
    with warehouse.connection() as conn, transaction(conn):
        tokens = accepted_tokens_through(conn, period)
        total = sum(tokens.values())
        rows = [[period, c, t, ratio(t, total)] for c, t in sorted(tokens.items())]
        conn.execute("DELETE FROM contribution_ratios WHERE period = ?", [period])
        conn.executemany("INSERT INTO contribution_ratios VALUES (?, ?, ?, ?)", rows)
    return MaterializeResult(
        metadata={
            "contributors": len(rows),
            "total tokens (sum T_j)": total,
            "ratios": MetadataValue.md(markdown_table(["contributor", "tokens (T_i)", "ratio"], [r[1:] for r in rows])),
        }
    )


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
    pool, with ties settled by more tokens, then contributor id."""
    period = date.fromisoformat(context.partition_key)
    start, end = month_bounds(period)
    alpha, digits, currency = platform.alpha_decimal, platform.currency_digits, platform.currency
    with warehouse.connection() as conn, transaction(conn):
        revenue = conn.execute(
            "SELECT coalesce(sum(revenue), 0) FROM api_revenue WHERE date >= ? AND date < ?", [start, end]
        ).fetchone()[0]
        revenue = Decimal(revenue)
        ratios = conn.execute(
            "SELECT contributor_id, tokens, ratio FROM contribution_ratios WHERE period = ? ORDER BY contributor_id",
            [period],
        ).fetchall()
        pool = pool_minor(revenue, alpha, digits)
        shares = allocate(pool, {c: int(t) for c, t, _ in ratios})
        ratio_of = {c: r for c, _, r in ratios}
        rows = [[period, s.contributor_id, s.tokens, ratio_of[s.contributor_id], to_major(s.minor, digits), currency]
                for s in shares]
        allocated = sum(s.minor for s in shares)
        conn.execute("DELETE FROM payouts WHERE period = ?", [period])
        conn.executemany("INSERT INTO payouts VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.execute("DELETE FROM payout_periods WHERE period = ?", [period])
        conn.execute(
            "INSERT INTO payout_periods VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [period, revenue, alpha, to_major(pool, digits), to_major(allocated, digits), currency, len(rows),
             sum(s.tokens for s in shares), datetime.now(timezone.utc)],
        )
    if not shares:
        context.log.warning(f"{period:%Y-%m}: no accepted tokens, the pool of {to_major(pool, digits)} {currency} is not allocated")
    return MaterializeResult(
        metadata={
            "revenue (R_API)": f"{revenue} {currency}",
            "alpha": str(alpha),
            "pool": f"{to_major(pool, digits)} {currency}",
            "allocated": f"{to_major(allocated, digits)} {currency}",
            "contributors paid": len(rows),
            "payouts": MetadataValue.md(
                markdown_table(["contributor", "tokens", "ratio", f"amount ({currency})"], [r[1:5] for r in rows])
            ),
        }
    )
