"""The consumer's API usage and revenue, by month."""


import calendar
from datetime import date, timedelta
from decimal import Decimal

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from onett_assets.partitions import period_partitions
from onett_assets.reporting import markdown_table
from onett_resources import RevenueSource, Warehouse
from onett_resources.revenue import revenue_fingerprint
from onett_resources.warehouse import insert_rows, transaction


def month_bounds(period: date) -> tuple[date, date]:
    days = calendar.monthrange(period.year, period.month)[1]
    return period, period + timedelta(days=days)


@asset(group_name="revenue", partitions_def=period_partitions, kinds={"duckdb"}, pool="duckdb")
def api_revenue(context: AssetExecutionContext, revenue_source: RevenueSource, warehouse: Warehouse) -> MaterializeResult:
    """The consumer's daily API usage and revenue for the month (R_API is their sum), copied exactly
    from the billing CSVs into the `api_revenue` table. A malformed or doubly reported day stops the run
    with the file and line to fix: money is never guessed."""
    start, end = month_bounds(date.fromisoformat(context.partition_key))
    days = revenue_source.days_between(start, end)
    with warehouse.connection() as conn, transaction(conn):
        conn.execute("DELETE FROM api_revenue WHERE date >= ? AND date < ?", [start, end])
        insert_rows(conn, 
            "INSERT INTO api_revenue VALUES (?, ?, ?, ?, ?, ?)",
            [[d.date, d.requests, d.input_tokens, d.output_tokens, d.revenue, d.source_file] for d in days],
        )
    total = sum((d.revenue for d in days), Decimal(0))
    expected = (end - start).days
    return MaterializeResult(
        metadata={
            "days reported": len(days),
            "days in month": expected,
            "missing days": MetadataValue.md(
                ", ".join(str(start + timedelta(n)) for n in range(expected)
                          if start + timedelta(n) not in {d.date for d in days}) or "none"
            ),
            "requests": sum(d.requests for d in days),
            "input tokens": sum(d.input_tokens for d in days),
            "output tokens": sum(d.output_tokens for d in days),
            "revenue (R_API)": str(total),
            "daily usage": MetadataValue.md(
                markdown_table(["date", "requests", "input tokens", "output tokens", "revenue"],
                               [[d.date, d.requests, d.input_tokens, d.output_tokens, d.revenue] for d in days])
            ),
            "revenue_fingerprint": revenue_fingerprint(days),
        }
    )
