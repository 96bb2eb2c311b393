"""Per month: contribution_ratios -> payouts. R_i = T_i / sum_j T_j x R_API x alpha, exactly (onett_domain.payouts)."""

from datetime import date, datetime, timezone

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MultiToSingleDimensionPartitionMapping,
    ResourceParam,
    asset,
)

from onett_assets.metadata import table
from onett_assets.partitions import Partitions
from onett_domain import payouts as months
from onett_domain.disputes import record_dispute_adjustments
from onett_domain.money import to_major
from onett_domain.policy import Policy
from onett_resources import ConsentRegistry, DisputeRegister, Warehouse
from onett_resources.warehouse import transaction

GROUP = "payouts"


def payout_assets(partitions: Partitions) -> list[AssetsDefinition]:
    every_contributor = MultiToSingleDimensionPartitionMapping(partition_dimension_name="period")

    @asset(group_name=GROUP, partitions_def=partitions.months, kinds={"duckdb"}, pool="duckdb",
           deps=[AssetDep("token_counts", partition_mapping=every_contributor)])
    def contribution_ratios(context: AssetExecutionContext, warehouse: Warehouse, policy: ResourceParam[Policy],
                            consent: ConsentRegistry) -> MaterializeResult:
        """Each contributor's data contribution ratio for the month: accepted tokens from all their submissions up
        to the end of the month (T_i; data keeps earning after the month it arrived, until its file is withdrawn),
        over the sum for all contributors (only 1T Club members' when the share requires membership). Frozen once
        the month is closed."""
        period = date.fromisoformat(context.partition_key)
        policy = consent.sharing(policy)
        with warehouse.connection() as conn, transaction(conn):
            ratios = months.contribution_ratios(conn, period, policy)
            months.store_ratios(conn, ratios)
        metadata = {
            "contributors": len(ratios.rows),
            "total tokens (sum T_j)": ratios.total,
            "ratios": table(["contributor", "tokens (T_i)", "ratio"], [r[1:] for r in ratios.rows]),
        }
        if ratios.closed is not None:
            changed = ratios.published != ratios.tokens
            metadata["frozen"] = (f"closed {ratios.closed:%Y-%m-%d}: published ratios kept"
                                  + ("; the recomputed ones above differ (see payout adjustments)" if changed
                                     else ", unchanged"))
        return MaterializeResult(metadata=metadata)

    @asset(group_name=GROUP, partitions_def=partitions.months, kinds={"duckdb"}, pool="duckdb",
           deps=[AssetDep(contribution_ratios), AssetDep("api_revenue")])
    def payouts(context: AssetExecutionContext, warehouse: Warehouse, policy: ResourceParam[Policy],
                consent: ConsentRegistry, disputes: DisputeRegister) -> MaterializeResult:
        """What each contributor is paid for the month. pool = R_API x alpha, rounded down to the currency's minor
        unit; it is split in proportion to T_i by largest remainder, so the amounts sum exactly to the pool, with
        ties settled by more tokens, then contributor id. Adjustments recorded for earlier closed months are carried
        in, with those decided on disputes. Once closed, a month's payouts are frozen: recomputing records
        adjustments."""
        period = date.fromisoformat(context.partition_key)
        policy = consent.sharing(policy)
        now = datetime.now(timezone.utc)
        resolved = disputes.adjustments()
        with warehouse.connection() as conn, transaction(conn):
            decided = record_dispute_adjustments(conn, resolved, now)
            closing = months.close_month(conn, period, policy, now)
        digits, currency = policy.digits, policy.currency
        if not closing.shares:
            context.log.warning(f"{period:%Y-%m}: no accepted tokens, the pool of {to_major(closing.pool, digits)} "
                                f"{currency} is not allocated")
        metadata = {
            "revenue (R_API)": f"{closing.revenue} {currency}",
            "alpha": str(policy.alpha),
            "pool": f"{to_major(closing.pool, digits)} {currency}",
            "allocated": f"{to_major(closing.allocated, digits)} {currency}",
            "contributors paid": len(closing.rows),
            "payouts": table(["contributor", "tokens", "ratio", f"amount ({currency})", "adjustment carried in"],
                             [[r[1], r[2], r[3], r[4], r[6]] for r in closing.rows]),
        }
        if decided:
            metadata["adjustments decided on disputes"] = table(
                ["dispute", "contributor", "month", f"adjustment ({currency})"], decided)
        if closing.closed is not None:
            metadata["frozen"] = f"closed {closing.closed:%Y-%m-%d}: published payouts kept"
            metadata["adjustments recorded"] = table(["contributor", f"adjustment ({currency})"], closing.adjustments,
                                                     empty="none: nothing changed")
        return MaterializeResult(metadata=metadata)

    return [contribution_ratios, payouts]
