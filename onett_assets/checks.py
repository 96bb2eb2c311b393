"""Money invariants as blocking checks: a failed check stops the run before anyone reads a wrong number."""


from decimal import Decimal

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from onett_assets.assets.payouts import contribution_ratios, payouts
from onett_assets.funnel import EARNING
from onett_resources import Warehouse


@asset_check(asset=payouts, blocking=True, description="Every month's payouts sum exactly to its pool when anyone holds tokens, and no amount is negative.")
def payouts_sum_to_pool(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.connection() as conn:
        wrong = conn.execute(
            """
            SELECT p.period, p.pool, coalesce(sum(o.amount), 0) AS paid, count(o.contributor_id) AS paid_to,
                   min(o.amount) AS smallest
            FROM payout_periods p LEFT JOIN payouts o USING (period)
            GROUP BY p.period, p.pool
            HAVING (count(o.contributor_id) > 0 AND coalesce(sum(o.amount), 0) <> p.pool) OR min(o.amount) < 0
            ORDER BY p.period
            """
        ).fetchall()
    return AssetCheckResult(
        passed=not wrong,
        severity=AssetCheckSeverity.ERROR,
        metadata={"months out of balance": ", ".join(f"{p:%Y-%m} pool {pool} paid {paid}" for p, pool, paid, *_ in wrong) or "none"},
    )


@asset_check(asset=contribution_ratios, blocking=True, description="Every month's ratios sum to 1 (to rounding) and match its token totals.")
def ratios_sum_to_one(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.connection() as conn:
        rows = conn.execute(
            "SELECT period, sum(ratio), count(*) FROM contribution_ratios GROUP BY period ORDER BY period"
        ).fetchall()
    # Each stored ratio is rounded to 18 places, so the sum may be off by half a unit per contributor.
    wrong = [(p, s) for p, s, n in rows if abs(Decimal(s) - 1) > Decimal(n) * Decimal("1e-18")]
    return AssetCheckResult(
        passed=not wrong,
        severity=AssetCheckSeverity.ERROR,
        metadata={"months off": ", ".join(f"{p:%Y-%m}: {s}" for p, s in wrong) or "none"},
    )


@asset_check(asset=contribution_ratios, blocking=True, description="Each contributor's credited tokens (accepted, file not withdrawn) equal the accepted stage of their token funnel.")
def credited_tokens_match_funnel(warehouse: Warehouse) -> AssetCheckResult:
    with warehouse.connection() as conn:
        wrong = conn.execute(
            f"""
            WITH credited AS (SELECT contributor_id, period, sum(tokens) AS tokens FROM documents
                              WHERE {EARNING} GROUP BY ALL),
                 funnel AS (SELECT contributor_id, period, tokens FROM token_funnel WHERE stage = 'accepted')
            SELECT contributor_id, period, coalesce(c.tokens, 0), coalesce(f.tokens, 0)
            FROM credited c FULL JOIN funnel f USING (contributor_id, period)
            WHERE coalesce(c.tokens, 0) <> coalesce(f.tokens, 0)
            ORDER BY ALL LIMIT 20
            """
        ).fetchall()
    return AssetCheckResult(
        passed=not wrong,
        severity=AssetCheckSeverity.ERROR,
        metadata={"mismatches": ", ".join(f"{c} {p:%Y-%m}: credited {a}, funnel {b}" for c, p, a, b in wrong) or "none"},
    )
