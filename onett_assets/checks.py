"""Money invariants as blocking checks: a failed check stops the run before anyone reads a wrong number."""

from decimal import Decimal

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from onett_domain import api_credit as credit
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


@asset_check(asset="api_credit", blocking=True,
             description="Per contributor, granted - used - expired + corrections = balance, the balance is never "
                         "negative, every entry has the sign of its kind, and no grant is overdrawn at any month's end.")
def api_credit_balances(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.connection() as conn:
        entries = credit.stored_entries(conn)
    summaries = credit.summarize(entries)
    unbalanced = [s for s in summaries.values() if not s.adds_up]
    negative = [s for s in summaries.values() if s.balance < 0]
    signs = credit.wrong_signs(entries)
    overdrawn = credit.overdrawn(entries)
    return AssetCheckResult(
        passed=not (unbalanced or negative or signs or overdrawn),
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "contributors": len(summaries),
            "not adding up": ", ".join(f"{s.contributor_id}: {s.granted} - {s.used} - {s.expired} + {s.corrections}"
                                       f" != {s.balance}" for s in unbalanced) or "none",
            "negative balances": ", ".join(f"{s.contributor_id}: {s.balance}" for s in negative) or "none",
            "entries with a wrong sign": ", ".join(f"{e.period:%Y-%m} {e.contributor_id} {e.entry} {e.credit}"
                                                   for e in signs[:20]) or "none",
            "grants overdrawn": ", ".join(f"{c} grant {g:%Y-%m} at the end of {m:%Y-%m}: {n}"
                                          for c, g, m, n in overdrawn[:20]) or "none",
        },
    )


CHECKS = [payouts_sum_to_pool, ratios_sum_to_one, credited_tokens_match_funnel, api_credit_balances]
