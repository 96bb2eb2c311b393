"""`onett`: the platform from a terminal. It runs the same Dagster jobs the UI and sensors run, on the same
instance, so every run and number shows up in the Dagster UI too."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path


def _prepare_home() -> Path:
    """Dagster needs an absolute, existing DAGSTER_HOME; default to ./dagster_home like `make run`."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        bundled = Path(__file__).resolve().parent.parent / "dagster_home" / "dagster.yaml"
        config.write_text(bundled.read_text() if bundled.exists() else "telemetry:\n  enabled: false\n")
    return home


def _say(message: str) -> None:
    print(message, flush=True)


def _parse_month(text: str) -> date:
    try:
        return date.fromisoformat(text[:7] + "-01")
    except ValueError:
        raise SystemExit(f"onett: {text!r} is not a month; use YYYY-MM (e.g. 2026-10)") from None


class Session:
    """The settings, definitions and Dagster instance one command works with."""

    def __init__(self) -> None:
        _prepare_home()
        from dagster import DagsterInstance

        from onett_assets.definitions import build_definitions, build_resources
        from onett_resources import load_settings

        self.settings = load_settings()
        self.defs = build_definitions(self.settings)
        self.resources = build_resources(self.settings)
        # Two `onett` processes starting on a fresh DAGSTER_HOME would both create Dagster's SQLite schema
        # (alembic then finds two heads): let one create it while the other waits.
        with open(Path(os.environ["DAGSTER_HOME"]) / ".onett-instance.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.instance = DagsterInstance.get()
            self.instance.get_runs(limit=1)
            recover_orphaned_runs(self.instance)
        self.resources["warehouse"].migrate()

    def run(self, job_name: str, partition_key=None, tags: dict | None = None):
        job = self.defs.resolve_job_def(job_name)
        return job.execute_in_process(
            instance=self.instance, partition_key=partition_key, raise_on_error=False,
            # The full event log is in the Dagster UI; the terminal shows progress and warnings.
            run_config={"loggers": {"console": {"config": {"log_level": os.environ.get("ONETT_LOG_LEVEL", "WARNING")}}}},
            tags={"onett/source": "cli", "onett/pid": str(os.getpid()), **(tags or {})},
        )

    def today(self) -> date:
        return datetime.now(self.settings.tz).date()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_orphaned_runs(instance) -> None:
    """Runs of an `onett` process that was killed stay 'started' and keep their DuckDB pool slot, which would
    make every later run wait forever: mark them failed and free their slots (the daemon does this for the
    runs it launches). Their partial work was never committed, so the next run simply does it again."""
    from dagster import DagsterRunStatus, RunsFilter

    runs = instance.get_runs(RunsFilter(
        statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING], tags={"onett/source": "cli"}))
    for run in runs:
        pid = run.tags.get("onett/pid", "")
        if pid.isdigit() and not _alive(int(pid)):
            instance.report_run_failed(run, f"the onett process {pid} running it was killed")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            _say(f"recovered run {run.run_id[:8]} ({run.job_name} {run.tags.get('dagster/partition', '')}) "
                 "of a killed onett process: its uncommitted work is redone")


def _failure(result) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and error.message.startswith("Error occurred while executing"):
                error = error.cause
            return f"{event.step_key}: {error.message.strip()}"
    return "run failed (see the Dagster UI for the logs)"


def _metadata(result, node: str, key: str):
    for materialization in result.asset_materializations_for_node(node):
        entry = materialization.metadata.get(key)
        if entry is not None:
            return entry.value
    return None


def cmd_ingest(args) -> int:
    from onett_assets.ingest_runner import run_partitions
    from onett_assets.planning import plan_ingest, reference_needs_refresh, revenue_months_to_refresh
    from onett_assets.reporting import text_table
    from onett_resources.revenue import RevenueError

    s = Session()
    failures = 0
    if reference_needs_refresh(s.instance, s.resources["reference_folder"]):
        _say(f"reference corpus: reading {s.settings.reference_dir} ...")
        result = s.run("refresh_reference")
        if not result.success:
            _say(f"  FAILED {_failure(result)}")
            failures += 1
        else:
            _say(f"  {_metadata(result, 'reference_corpus', 'documents')} reference documents")
    try:
        months = revenue_months_to_refresh(s.instance, s.resources["revenue_source"])
    except RevenueError as exc:
        _say(f"revenue: NOT LOADED: {exc}")
        months, failures = [], failures + 1
    for month, _ in months:
        result = s.run("load_revenue", month.isoformat())
        status = "ok" if result.success else f"FAILED {_failure(result)}"
        _say(f"revenue {month:%Y-%m}: {_metadata(result, 'api_revenue', 'revenue (R_API)') or '-'} ({status})")
        failures += not result.success

    landing_zone = s.resources["landing_zone"]
    for attempt in range(30):
        plan = plan_ingest(s.instance, landing_zone, s.resources["platform"])
        youngest = min((p.youngest_age(time.time()) for p in plan.pending), default=float("inf"))
        if youngest >= landing_zone.settle_seconds:
            break
        _say(f"waiting for uploads still being written to settle ({landing_zone.settle_seconds:g}s) ...")
        time.sleep(max(landing_zone.settle_seconds - youngest, 0.2))
    for reason in plan.ignored:
        _say(f"not processed: {reason}")
    if plan.new_contributors:
        s.instance.add_dynamic_partitions("contributors", plan.new_contributors)
        _say(f"new contributors: {', '.join(plan.new_contributors)}")
    if not plan.pending:
        _say("landing zone: nothing new or changed")
        return 1 if failures else 0

    _say(f"landing zone: {len(plan.pending)} (contributor, month) submission(s) to process")
    started = time.monotonic()
    outcomes = run_partitions(s, plan.pending, _say)
    failures += sum(not o.ok for o in outcomes)
    rows = [o.row() for o in outcomes]
    _say("")
    _say(text_table(["contributor", "month", "files", "documents", "accepted docs", "accepted tokens",
                     "files rejected", "status"], rows))
    _say(f"\n{len(rows)} submission(s) in {time.monotonic() - started:.1f}s; "
         f"details per file: onett statement CONTRIBUTOR, or the `submissions` table")
    return 1 if failures else 0


def _close_one(s: Session, month: date) -> bool:
    from onett_assets.reporting import text_table
    from onett_assets.planning import plan_ingest

    today = s.today()
    if month > today.replace(day=1):
        _say(f"onett: {month:%Y-%m} has not started yet")
        return False
    if month < s.settings.first_period:
        _say(f"onett: {month:%Y-%m} is before the platform's first period {s.settings.first_period:%Y-%m}")
        return False
    stale = [p for p in plan_ingest(s.instance, s.resources["landing_zone"], s.resources["platform"]).pending
             if p.period <= month]
    if stale:
        _say(f"warning: {len(stale)} upload(s) up to {month:%Y-%m} are not processed yet (run `onett ingest` first): "
             + ", ".join(f"{p.contributor_id} {p.period:%Y-%m}" for p in stale[:5]))
    if month == today.replace(day=1):
        _say(f"warning: {month:%Y-%m} has not ended; these payouts are provisional until it does")
    result = s.run("close_period", month.isoformat())
    if not result.success:
        _say(f"close {month:%Y-%m}: FAILED {_failure(result)}")
        return False
    failed_checks = [c.check_name for c in result.get_asset_check_evaluations() if not c.passed]
    with s.resources["warehouse"].reader() as conn:
        period_row = conn.execute(
            "SELECT revenue, alpha, pool, allocated, currency, tokens FROM payout_periods WHERE period = ?", [month]
        ).fetchone()
        rows = conn.execute(
            "SELECT contributor_id, tokens, ratio, amount, adjustment FROM payouts WHERE period = ? ORDER BY amount DESC, contributor_id",
            [month],
        ).fetchall()
        pending = conn.execute(
            "SELECT contributor_id, amount, reason FROM payout_adjustments WHERE period = ? AND applied_in IS NULL ORDER BY 1",
            [month],
        ).fetchall()
    revenue, alpha, pool, allocated, currency, tokens = period_row
    digits = s.settings.currency_digits
    money = lambda v: f"{Decimal(v):,.{digits}f}"  # noqa: E731
    _say(f"\n{month:%Y-%m}: revenue {money(revenue)} {currency} x alpha {Decimal(alpha).normalize()} "
         f"= pool {money(pool)} {currency}; {len(rows)} contributor(s), {tokens:,} tokens")
    adjusted = any(Decimal(adj) for *_, adj in rows)
    header = ["contributor", "tokens", "ratio", f"amount ({currency})"] + (["adjustment carried in"] if adjusted else [])
    _say(text_table(header,
                    [[c, f"{t:,}", f"{Decimal(r):.6f}", money(a)] + ([money(adj)] if adjusted else [])
                     for c, t, r, a, adj in rows]
                    + [["total", f"{tokens:,}", "1.000000" if rows else "0", money(allocated)]
                       + ([money(sum(Decimal(adj) for *_, adj in rows))] if adjusted else [])]))
    if pending:
        _say(f"{month:%Y-%m} was already closed: its payouts above are frozen. Recomputing it now would pay "
             "differently; these adjustments are carried into the next month that closes:")
        _say(text_table(["contributor", f"adjustment ({currency})", "reason"], [[c, money(a), r] for c, a, r in pending]))
    if failed_checks:
        _say(f"CHECKS FAILED: {', '.join(failed_checks)}")
        return False
    return True


def cmd_close(args) -> int:
    from onett_assets.assets.revenue import month_bounds

    s = Session()
    if args.ended:
        with s.resources["warehouse"].reader() as conn:
            first = conn.execute(
                "SELECT min(p) FROM (SELECT min(period) p FROM submissions UNION ALL "
                "SELECT min(date_trunc('month', date))::DATE FROM api_revenue)"
            ).fetchone()[0]
        months = []
        month = max(first, s.settings.first_period) if first else None
        while month is not None and month < s.today().replace(day=1):
            months.append(month)
            month = month_bounds(month)[1]
        if not months:
            _say("no ended month with submissions or revenue to close")
            return 0
    elif args.month:
        months = [_parse_month(args.month)]
    else:
        raise SystemExit("onett close: give a month (YYYY-MM) or --ended")
    ok = all([_close_one(s, m) for m in months])
    return 0 if ok else 1


def cmd_statement(args) -> int:
    import unicodedata

    from onett_assets.reporting import text_table
    from onett_assets.statement import UnknownContributor, build_statement

    s = Session()
    contributor_id = unicodedata.normalize("NFC", args.contributor)
    period = _parse_month(args.period) if args.period else None
    with s.resources["warehouse"].reader() as conn:
        try:
            st = build_statement(conn, contributor_id, s.settings, s.today(), period)
        except UnknownContributor as exc:
            print(f"onett: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(st, ensure_ascii=False, indent=2, default=str))
        return 0
    cur = st["currency"]
    exp = st["expected_payout"]
    _say(f"Statement for {st['contributor_id']} (as of {st['as_of_period']})\n")
    _say(f"  Data contribution ratio   {Decimal(st['contribution_ratio']) * 100:.4f} %  "
         f"({st['contribution_tokens']:,} of {st['all_contributors_tokens']:,} tokens)")
    _say(f"  Contribution token count  {st['contribution_tokens']:,}")
    _say(f"  Current monetary reward   {st['current_reward']} {cur} (paid for closed months)")
    _say(f"  Expected payout           {exp['amount']} {cur} for {exp['period']}, paid after {exp['payout_date']}")
    _say(f"      estimated revenue {exp['estimated_revenue']} {cur} ({exp['basis']}; "
         f"{exp['days_reported']}/{exp['days_in_month']} days reported) x alpha {st['alpha']} x your share {Decimal(exp['share']):.6f}")
    if st["pending_adjustments"]:
        _say("      includes adjustments of closed months: "
             + ", ".join(f"{a['amount']} {cur} for {a['period']}" for a in st["pending_adjustments"]))
    if st["payout_history"]:
        _say("\nPayout history")
        _say(text_table(["month", "tokens", "ratio", f"amount ({cur})", "of which adjustments"],
                        [[h["period"], f"{h['tokens']:,}", f"{Decimal(h['ratio']):.6f}", h["amount"], h["adjustment_included"]]
                         for h in st["payout_history"]]))
    if st.get("withdrawn"):
        _say("\nWithdrawn files (removed from the landing zone: they earned until then, closed months stay as paid)")
        _say(text_table(["file", "uploaded", "withdrawn on", "documents", "tokens that stopped earning"],
                        [[w["file"], w["submitted_at"][:10], w["withdrawn_on"], f"{w['docs']:,}", f"{w['tokens_stopped']:,}"]
                         for w in st["withdrawn"]]))
    if st["removed"]:
        _say("\nWhy documents earned nothing (details: onett reasons " + st["contributor_id"] + ")")
        _say(text_table(["rule", "documents", "tokens", "example"],
                        [[r["rule"], f"{r['docs']:,}", f"{r['tokens']:,}", r["example"][:90]] for r in st["removed"]]))
    _say("\nToken funnel" + (f" ({args.period})" if period else " (all your uploads)"))
    _say(text_table(["stage", "documents", "tokens", "meaning"],
                    [[f["stage"], f"{f['docs']:,}", f"{f['tokens']:,}", f["meaning"]] for f in st["funnel"]]))
    return 0


def cmd_reasons(args) -> int:
    import unicodedata

    from onett_assets.reporting import text_table
    from onett_assets.statement import document_reasons

    s = Session()
    contributor_id = unicodedata.normalize("NFC", args.contributor)
    period = _parse_month(args.period) if args.period else None
    with s.resources["warehouse"].reader() as conn:
        rows = document_reasons(conn, contributor_id, period, args.limit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    elif not rows:
        _say(f"every document of {contributor_id} earns tokens" if period is None else f"nothing removed in {args.period}")
    else:
        _say(text_table(["month", "file", "#", "id", "rule", "tokens", "reason"],
                        [[f"{r['period']:%Y-%m}", r["file"], r["position"], r["doc_id"] or "", r["rule"] or r["status"],
                          r["tokens"], r["reason"]] for r in rows]))
    return 0


def cmd_demo(args) -> int:
    from onett_assets.demo import build_demo
    from onett_resources import load_settings

    _prepare_home()
    settings = load_settings()
    summary = build_demo(settings)
    _say(f"demo: {summary['files']} files from {len(summary['contributors'])} contributors "
         f"({', '.join(summary['contributors'])}) over {', '.join(summary['months'])}")
    _say(f"      landing zone {settings.landing_dir}")
    _say(f"      revenue {summary['revenue_days']} days in {settings.revenue_dir}; reference corpus in {settings.reference_dir}")
    _say("next: onett ingest && onett close --ended")
    return 0


# ---- the portal (onett_portal): operator-made accounts and the web server ------------------------------

def cmd_account(args) -> int:
    import getpass

    from onett_portal.auth import AccountError, add_account, normalize_name
    from onett_portal.config import load_portal_settings
    from onett_portal.store import PortalStore

    _prepare_home()
    store = PortalStore(load_portal_settings().database)
    if args.action == "list":
        for a in store.accounts():
            _say(f"{a.name}\t{a.role}\t{a.contributor_id or '(all contributors)'}\tcreated {a.created_at}")
        return 0
    if args.action == "remove":
        if not store.remove_account(normalize_name(args.name)):
            print(f"onett: no account {args.name!r}", file=sys.stderr)
            return 2
        _say(f"removed account {args.name} and its sessions")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("the same password again: "):
            print("onett: the two passwords differ", file=sys.stderr)
            return 2
    try:
        account = add_account(store, args.name, args.role, password, args.contributor)
    except AccountError as exc:
        print(f"onett: {exc}", file=sys.stderr)
        return 2
    sees = f"contributor {account.contributor_id}" if account.contributor_id else "every contributor"
    _say(f"added {account.role} account {account.name} (sees {sees})")
    return 0


def cmd_portal(args) -> int:
    import uvicorn

    from onett_portal.app import create_app

    _prepare_home()
    from onett_assets.definitions import build_resources
    from onett_resources import load_settings

    build_resources(load_settings())["warehouse"].migrate()
    app = create_app()
    _say(f"onett portal on http://{args.host}:{args.port}  (accounts: onett account add NAME --role contributor|operator)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _register_portal_commands(sub) -> None:
    from onett_portal.config import DEFAULT_PORT

    account = sub.add_parser("account", help="portal accounts: add, list or remove (operators create them)")
    actions = account.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add an account; the password is asked for (or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=["contributor", "operator"], required=True)
    add.add_argument("--contributor", help="contributor id (landing folder) the account sees; default: NAME")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    actions.add_parser("list", help="every account with its role")
    remove = actions.add_parser("remove", help="remove an account and end its sessions")
    remove.add_argument("name")
    account.set_defaults(fn=cmd_account)
    portal = sub.add_parser("portal", help="the contributor and operator web portal")
    portal.add_argument("--host", default="127.0.0.1")
    portal.add_argument("--port", type=int, default=DEFAULT_PORT)
    portal.set_defaults(fn=cmd_portal)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="onett", description="onett: uploads to exact payouts.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ingest", help="process everything new or changed in the landing zone now").set_defaults(fn=cmd_ingest)
    close = sub.add_parser("close", help="compute ratios and payouts of a month and print them")
    close.add_argument("month", nargs="?", help="YYYY-MM")
    close.add_argument("--ended", action="store_true", help="close every month that has ended")
    close.set_defaults(fn=cmd_close)
    statement = sub.add_parser("statement", help="a contributor's ratio, tokens, reward, expected payout, funnel")
    statement.add_argument("contributor")
    statement.add_argument("--period", help="YYYY-MM: that month's numbers")
    statement.add_argument("--json", action="store_true")
    statement.set_defaults(fn=cmd_statement)
    reasons = sub.add_parser("reasons", help="a contributor's documents that earn nothing, each with its reason")
    reasons.add_argument("contributor")
    reasons.add_argument("--period", help="YYYY-MM: uploads of that month only")
    reasons.add_argument("--limit", type=int, default=1000)
    reasons.add_argument("--json", action="store_true")
    reasons.set_defaults(fn=cmd_reasons)
    sub.add_parser("demo", help="fill the landing zone, revenue and reference folders with demo data").set_defaults(fn=cmd_demo)
    _register_portal_commands(sub)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # settings errors and the like: one clear line, not a traceback
        from onett_resources.settings import SettingsError

        if isinstance(exc, SettingsError):
            print(f"onett: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
