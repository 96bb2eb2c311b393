"""The consumer's API usage and revenue, by month."""

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, MetadataValue, asset

from onett_assets.metadata import table
from onett_assets.partitions import Partitions
from onett_domain.contracts import REVENUE, validate
from onett_domain.periods import month_bounds
from onett_domain.revenue import revenue_fingerprint
from onett_domain.sql import insert_frame
from onett_resources import RevenueSource, Warehouse
from onett_resources.warehouse import transaction

REVENUE_SCHEMA = {"date": pl.Date, "requests": pl.Int64, "input_tokens": pl.Int64, "output_tokens": pl.Int64,
                  "revenue": pl.Decimal(38, 10), "source_file": pl.String}


def revenue_assets(partitions: Partitions) -> list[AssetsDefinition]:
    @asset(group_name="revenue", partitions_def=partitions.months, kinds={"duckdb"}, pool="duckdb")
    def api_revenue(context: AssetExecutionContext, revenue_source: RevenueSource, warehouse: Warehouse
                    ) -> MaterializeResult:
        """The consumer's daily API usage and revenue for the month (R_API is their sum), copied exactly from the
        billing CSVs into the `api_revenue` table. A malformed or doubly reported day stops the run with the file
        and line to fix: money is never guessed."""
        start, end = month_bounds(date.fromisoformat(context.partition_key))
        days = revenue_source.days_between(start, end)
        frame = validate(REVENUE, pl.DataFrame(
            [[d.date, d.requests, d.input_tokens, d.output_tokens, d.revenue, d.source_file] for d in days],
            schema=REVENUE_SCHEMA, orient="row"))
        with warehouse.connection() as conn, transaction(conn):
            conn.execute("DELETE FROM api_revenue WHERE date >= ? AND date < ?", [start, end])
            insert_frame(conn, "api_revenue", frame)
        reported = {d.date for d in days}
        expected = (end - start).days
        return MaterializeResult(metadata={
            "days reported": len(days),
            "days in month": expected,
            "missing days": MetadataValue.md(", ".join(
                str(start + timedelta(n)) for n in range(expected) if start + timedelta(n) not in reported) or "none"),
            "requests": sum(d.requests for d in days),
            "input tokens": sum(d.input_tokens for d in days),
            "output tokens": sum(d.output_tokens for d in days),
            "revenue (R_API)": str(sum((d.revenue for d in days), Decimal(0))),
            "daily usage": table(["date", "requests", "input tokens", "output tokens", "revenue"],
                                 [[d.date, d.requests, d.input_tokens, d.output_tokens, d.revenue] for d in days]),
            "revenue_fingerprint": revenue_fingerprint(days),
        })

    return [api_revenue]
