"""Money invariants as blocking checks: a failed check stops the run before anyone reads a wrong number."""

from decimal import Decimal

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from onett_domain import payouts as months
from onett_resources import Warehouse


@asset_check(asset="payouts", blocking=True, description="Every month's payouts sum exactly to its pool when anyone "
             "holds tokens, and no amount is negative.")
def payouts_sum_to_pool(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.connection() as conn:
        wrong = months.unbalanced_months(conn)
    return AssetCheckResult(
        passed=not wrong,
        severity=AssetCheckSeverity.ERROR,
        metadata={"months out of balance": ", ".join(f"{p:%Y-%m} pool {pool} paid {paid}"
                                                     for p, pool, paid, *_ in wrong) or "none"},
    )


@asset_check(asset="contribution_ratios", blocking=True,
             description="Every month's ratios sum to 1 (to rounding) and match its token totals.")
def ratios_sum_to_one(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.connection() as conn:
        rows = months.ratio_sums(conn)
    # Each stored ratio is rounded to 18 places, so the sum may be off by half a unit per contributor.
    wrong = [(p, s) for p, s, n in rows if abs(Decimal(s) - 1) > Decimal(n) * Decimal("1e-18")]
    return AssetCheckResult(
        passed=not wrong,
        severity=AssetCheckSeverity.ERROR,
        metadata={"months off": ", ".join(f"{p:%Y-%m}: {s}" for p, s in wrong) or "none"},
    )


@asset_check(asset="contribution_ratios", blocking=True,
             description="Each contributor's credited tokens (accepted, file not withdrawn) equal the accepted stage "
                         "of their token funnel.")
def credited_tokens_match_funnel(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.connection() as conn:
        wrong = months.credited_funnel_mismatches(conn)
    return AssetCheckResult(
        passed=not wrong,
        severity=AssetCheckSeverity.ERROR,
        metadata={"mismatches": ", ".join(f"{c} {p:%Y-%m}: credited {a}, funnel {b}"
                                          for c, p, a, b in wrong) or "none"},
    )


CHECKS = [payouts_sum_to_pool, ratios_sum_to_one, credited_tokens_match_funnel]
