"""The 1T Club's API credit: api_usage -> api_credit. Contributed tokens become free API tokens, drawn by the
partner's API usage (onett_domain.api_credit)."""

from datetime import date, datetime, timezone
from decimal import Decimal

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    MultiToSingleDimensionPartitionMapping,
    ResourceParam,
    asset,
)

from onett_assets.metadata import bullets, table
from onett_assets.partitions import Partitions
from onett_domain import api_credit as credit
from onett_domain.periods import month_bounds
from onett_domain.policy import Policy
from onett_domain.sql import insert_rows
from onett_resources import UsageFeed, Warehouse
from onett_resources.warehouse import transaction

GROUP = "club"
MAX_ERRORS = 200


def api_credit_assets(partitions: Partitions, ratio: Decimal, expiry_months: int) -> list[AssetsDefinition]:
    """`ratio`: API tokens granted per credited token; `expiry_months`: a grant's life (0: never)."""
    rules = credit.CreditRules(ratio, expiry_months)
    every_contributor = MultiToSingleDimensionPartitionMapping(partition_dimension_name="period")

    @asset(group_name=GROUP, partitions_def=partitions.months, kinds={"duckdb"}, pool="duckdb")
    def api_usage(context: AssetExecutionContext, usage_feed: UsageFeed, warehouse: Warehouse) -> MaterializeResult:
        """The partners' daily API usage for the month, copied from the consumer's per-partner usage feed into the
        `api_usage` table (keys mapped to contributors). Any malformed row, unknown contributor or key, or day
        reported twice anywhere in the feed stops the run with every error listed by file and line; nothing is
        applied."""
        start, end = month_bounds(date.fromisoformat(context.partition_key))
        rows, errors = usage_feed.read()
        with warehouse.connection() as conn, transaction(conn):
            errors += credit.unknown_contributor_errors(rows, credit.known_contributors(conn))
            if errors:
                raise Failure(
                    description=f"the usage feed has {len(errors)} error(s); nothing was applied. First: {errors[0]}",
                    metadata={"errors": bullets(errors, limit=MAX_ERRORS), "error count": len(errors),
                              "usage folder": usage_feed.path})
            month = [r for r in rows if start <= r.date < end]
            conn.execute("DELETE FROM api_usage WHERE date >= ? AND date < ?", [start, end])
            insert_rows(conn, "INSERT INTO api_usage VALUES (?, ?, ?, ?, ?, ?)",
                        [[r.date, r.contributor_id, r.api_key, r.input_tokens, r.output_tokens, r.source]
                         for r in month])
        per: dict[str, list[int]] = {}
        for r in month:
            t = per.setdefault(r.contributor_id, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + 1, t[1] + r.input_tokens, t[2] + r.output_tokens
        return MaterializeResult(metadata={
            "rows": len(month),
            "partners": len(per),
            "input tokens": sum(r.input_tokens for r in month),
            "output tokens": sum(r.output_tokens for r in month),
            "usage": table(["contributor", "rows", "input tokens", "output tokens"],
                           [[c, *t] for c, t in sorted(per.items())]),
        })

    @asset(group_name=GROUP, partitions_def=partitions.months, kinds={"duckdb"}, pool="duckdb",
           deps=[AssetDep("token_counts", partition_mapping=every_contributor), AssetDep(api_usage),
                 AssetDep("payouts")])
    def api_credit(context: AssetExecutionContext, warehouse: Warehouse, policy: ResourceParam[Policy]
                   ) -> MaterializeResult:
        """The month's API credit ledger entries. Newly credited tokens x the credit ratio (rounded down) become a
        grant effective from the next month (a document is granted once, in the first month it earns; withdrawals
        and erasures never take a grant back); usage is drawn from the grant expiring first, usage beyond the
        credit is billable, and what is left of a grant when it expires is written off. It runs after the month's
        payouts: the month's entries freeze with its close, and a later recomputation that differs is recorded as
        corrections in the next month not frozen. Balances are sums of entries."""
        period = date.fromisoformat(context.partition_key)
        with warehouse.connection() as conn, transaction(conn):
            done = credit.settle(conn, period, policy, rules, datetime.now(timezone.utc))
            through = [e for e in credit.stored_entries(conn) if e.period <= period]
            prices = credit.month_prices(conn)
        month = credit.summarize(done.entries)
        total = credit.summarize(through)
        revenue, billed = prices.get(period, (0, 0))
        price = credit.price_per_token(revenue, billed)
        rows = [[c, s.granted, s.used, s.expired, s.billable + s.billable_corrections, s.corrections,
                 total[c].balance, _value(credit.credit_value(s.used, revenue, billed, policy.digits), policy)]
                for c, s in month.items()]
        metadata = {
            "contributors": len(month),
            "granted": sum(s.granted for s in month.values()),
            "used": sum(s.used for s in month.values()),
            "expired": sum(s.expired for s in month.values()),
            "billable": sum(s.billable + s.billable_corrections for s in month.values()),
            "credit ratio": str(rules.ratio),
            "expiry (months)": rules.expiry_months or "never",
            "average billed price per token": f"{price:.10f} {policy.currency}" if price is not None else "no price",
            "ledger": table(["contributor", "granted", "used", "expired", "billable", "corrections",
                             "balance (end of month)", "value of credit used"], rows),
            "months written": MetadataValue.md(", ".join(f"{m:%Y-%m}" for m in done.written) or "none"),
        }
        if done.frozen:
            metadata["frozen"] = "the month is closed: its entries are kept as recorded"
        metadata["corrections recorded"] = table(
                ["month", "contributor", "corrects", "grant", "credit", "billable"],
                [[f"{e.period:%Y-%m}", e.contributor_id, e.corrects, f"{e.grant_period:%Y-%m}" if e.grant_period
                  else "", e.credit, e.billable] for e in done.corrections], empty="none: nothing changed")
        if done.frozen_now:
            metadata["frozen now"] = ", ".join(f"{m:%Y-%m}" for m in done.frozen_now)
        return MaterializeResult(metadata=metadata)

    return [api_usage, api_credit]


def _value(value, policy: Policy) -> str:
    return f"{value} {policy.currency}" if value is not None else "no price"
