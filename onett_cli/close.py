"""`onett close`: a month's revenue, ratios and payouts with the money checks, printed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dagster import AssetCheckSeverity

from onett_assets.planning import plan_ingest
from onett_cli.session import Session, failure, say
from onett_cli.tables import text_table
from onett_domain.periods import month_of, months_between, parse_month


def cmd_close(args) -> int:
    s = Session()
    if args.ended:
        months = _ended_months(s)
        if not months:
            say("no ended month with submissions or revenue to close")
            return 0
    elif args.month:
        try:
            months = [parse_month(args.month)]
        except ValueError as exc:
            raise SystemExit(f"onett: {exc}") from None
    else:
        raise SystemExit("onett close: give a month (YYYY-MM) or --ended")
    ok = all([close_one(s, m) for m in months])
    return 0 if ok else 1


def _ended_months(s: Session) -> list[date]:
    with s.resources["warehouse"].reader() as conn:
        first = conn.execute(
            "SELECT min(p) FROM (SELECT min(period) p FROM uploads UNION ALL "
            "SELECT min(date_trunc('month', date))::DATE FROM api_revenue)"
        ).fetchone()[0]
    this_month = month_of(s.today())
    if first is None or max(first, s.settings.first_period) >= this_month:
        return []
    return [m for m in months_between(max(first, s.settings.first_period), this_month) if m < this_month]


def close_one(s: Session, month: date) -> bool:
    this_month = month_of(s.today())
    if month > this_month:
        say(f"onett: {month:%Y-%m} has not started yet")
        return False
    if month < s.settings.first_period:
        say(f"onett: {month:%Y-%m} is before the platform's first month {s.settings.first_period:%Y-%m}")
        return False
    plan = plan_ingest(s.instance, s.resources["landing_zone"], s.policy, s.resources["consent"])
    stale = [p for p in plan.pending if p.period <= month]
    if stale:
        say(f"warning: {len(stale)} upload(s) up to {month:%Y-%m} are not processed yet (run `onett ingest` first): "
            + ", ".join(f"{p.contributor_id} {p.period:%Y-%m}" for p in stale[:5]))
    if month == this_month:
        say(f"warning: {month:%Y-%m} has not ended; these payouts are provisional until it does")
    result = s.run("close_period", month.isoformat())
    if not result.success:
        say(f"close {month:%Y-%m}: FAILED {failure(result)}")
        return False
    evaluations = [c for c in result.get_asset_check_evaluations() if not c.passed]
    failed_checks = [c.check_name for c in evaluations if c.severity == AssetCheckSeverity.ERROR]
    _print_month(s, month)
    for warning in (c for c in evaluations if c.severity != AssetCheckSeverity.ERROR):
        say(f"warning: check {warning.check_name} did not pass (see its metadata in the Dagster UI)")
    _print_release(s, month)
    if failed_checks:
        say(f"CHECKS FAILED: {', '.join(failed_checks)}")
        return False
    return True


def _print_month(s: Session, month: date) -> None:
    with s.resources["warehouse"].reader() as conn:
        period_row = conn.execute(
            "SELECT revenue, alpha, pool, allocated, currency, tokens FROM payout_periods WHERE period = ?", [month]
        ).fetchone()
        rows = conn.execute(
            "SELECT contributor_id, tokens, ratio, amount, adjustment FROM payouts WHERE period = ? "
            "ORDER BY amount DESC, contributor_id", [month]).fetchall()
        pending = conn.execute(
            "SELECT contributor_id, amount, reason FROM payout_adjustments WHERE period = ? AND applied_in IS NULL "
            "ORDER BY 1", [month]).fetchall()
    revenue, alpha, pool, allocated, currency, tokens = period_row
    digits = s.policy.digits
    money = lambda v: f"{Decimal(v):,.{digits}f}"  # noqa: E731
    say(f"\n{month:%Y-%m}: revenue {money(revenue)} {currency} x alpha {Decimal(alpha).normalize()} "
        f"= pool {money(pool)} {currency}; {len(rows)} contributor(s), {tokens:,} tokens")
    adjusted = any(Decimal(adj) for *_, adj in rows)
    header = ["contributor", "tokens", "ratio", f"amount ({currency})"] + (["adjustment carried in"] if adjusted else [])
    say(text_table(header,
                   [[c, f"{t:,}", f"{Decimal(r):.6f}", money(a)] + ([money(adj)] if adjusted else [])
                    for c, t, r, a, adj in rows]
                   + [["total", f"{tokens:,}", "1.000000" if rows else "0", money(allocated)]
                      + ([money(sum(Decimal(adj) for *_, adj in rows))] if adjusted else [])]))
    if pending:
        say(f"{month:%Y-%m} was already closed: its payouts above are frozen. Recomputing it now would pay "
            "differently; these adjustments are carried into the next month that closes:")
        say(text_table(["contributor", f"adjustment ({currency})", "reason"], [[c, money(a), r] for c, a, r in pending]))


def _print_release(s: Session, month: date) -> None:
    mine = [m for m in s.resources["release_store"].manifests() if m["period"] == f"{month:%Y-%m}"]
    if mine:
        m = mine[-1]
        say(f"release {m['release_id']}: {m['documents']:,} documents, {m['tokens']:,} tokens, {len(m['shards'])} "
            f"shard(s) in {s.resources['release_store'].root / m['release_id']}")
