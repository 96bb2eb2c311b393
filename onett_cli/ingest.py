"""`onett ingest`: the reference corpus and revenue if they changed, then every submission whose uploads changed."""

from __future__ import annotations

import time
from pathlib import Path

from dagster import AssetKey

from onett_assets.planning import plan_ingest, reference_needs_refresh, revenue_months_to_refresh
from onett_cli.runner import run_partitions
from onett_cli.session import Session, failure, run_metadata, say
from onett_cli.tables import text_table
from onett_resources.ray_engine import EngineUnreachable
from onett_resources.revenue import RevenueError
from onett_text.recitation import MANIFEST

SETTLE_ATTEMPTS = 30
REGISTER_ATTEMPTS = 3


def cmd_ingest(args) -> int:
    s = Session()
    failures = 0
    try:
        s.resources["workers"].connect()  # a configured engine that does not answer stops everything, up front
    except EngineUnreachable as exc:
        say(f"NOT STARTED: {exc}")
        return 1
    if reference_needs_refresh(s.instance, s.resources["reference_folder"]):
        say(f"reference corpus: reading {s.settings.reference_dir} ...")
        result = s.run("refresh_reference")
        if not result.success:
            say(f"  FAILED {failure(result)}")
            failures += 1
        else:
            say(f"  {run_metadata(result, 'reference_corpus', 'documents')} reference documents")
    try:
        months = revenue_months_to_refresh(s.instance, s.resources["revenue_source"])
    except RevenueError as exc:
        say(f"revenue: NOT LOADED: {exc}")
        months, failures = [], failures + 1
    for month, _ in months:
        result = s.run("load_revenue", month.isoformat())
        status = "ok" if result.success else f"FAILED {failure(result)}"
        say(f"revenue {month:%Y-%m}: {run_metadata(result, 'api_revenue', 'revenue (R_API)') or '-'} ({status})")
        failures += not result.success

    landing_zone = s.resources["landing_zone"]
    for _ in range(SETTLE_ATTEMPTS):
        plan = plan_ingest(s.instance, landing_zone, s.policy, s.resources["consent"])
        youngest = min((p.youngest_age(time.time()) for p in plan.pending), default=float("inf"))
        if youngest >= landing_zone.settle_seconds:
            break
        say(f"waiting for uploads still being written to settle ({landing_zone.settle_seconds:g}s) ...")
        time.sleep(max(landing_zone.settle_seconds - youngest, 0.2))
    for reason in plan.ignored:
        say(f"not processed: {reason}")
    for alert in plan.alerts:
        say(f"ALERT: {alert}")
    failures += len(plan.alerts)  # an operator must look: the exit status says so
    if plan.new_contributors:
        register_contributors(s.instance, plan.new_contributors)
        say(f"new contributors: {', '.join(plan.new_contributors)}")
    if not plan.pending:
        say("landing zone: nothing new or changed")
        erased = _finish_erasures(s)
        return 1 if failures + erased + _update_indexes(s, changed=False) else 0

    say(f"landing zone: {len(plan.pending)} (contributor, month) submission(s) to process")
    started = time.monotonic()
    outcomes = run_partitions(s, plan.pending, say)
    failures += sum(not o.ok for o in outcomes)
    rows = [o.row() for o in outcomes]
    say("")
    say(text_table(["contributor", "month", "files", "documents", "accepted docs", "accepted tokens",
                    "files rejected", "status"], rows))
    say(f"\n{len(rows)} submission(s) in {time.monotonic() - started:.1f}s; "
        f"details per file: onett statement CONTRIBUTOR, or the `uploads` table")
    erased = _finish_erasures(s)
    return 1 if failures + erased + _update_indexes(s, changed=True) else 0


def _update_indexes(s: Session, changed: bool) -> int:
    """The pool's indexes (the recitation guard's, the near-duplicate index's merges) are updated when the pool
    changed (or an erasure finished, or there is no recitation index yet); returns 1 if that failed."""
    store = s.resources["recitation_store"]
    erased = s.instance.get_latest_materialization_event(AssetKey("erasures"))
    indexed = s.instance.get_latest_materialization_event(AssetKey("recitation_index"))
    stale = erased is not None and (indexed is None or erased.timestamp > indexed.timestamp)
    if not (changed or stale or not (Path(store.path) / MANIFEST).exists()):
        return 0
    result = s.run("update_indexes")
    if not result.success:
        say(f"indexes: FAILED {failure(result)}")
        return 1
    say(f"recitation index: {run_metadata(result, 'recitation_index', 'texts')} texts, "
        f"{run_metadata(result, 'recitation_index', 'tokens')} tokens; near-duplicate index: "
        f"{run_metadata(result, 'near_duplicate_index', 'files')} files "
        f"({run_metadata(result, 'near_duplicate_index', 'merges')} merged now)")
    return 0


def _finish_erasures(s: Session) -> int:
    """Erasure requests waiting for their submissions to be processed without the file are finished now; returns
    1 if that failed."""
    pending = s.resources["consent"].erasures(pending=True)
    if not pending:
        return 0
    result = s.run("finish_erasures")
    if not result.success:
        say(f"erasures: FAILED {failure(result)}")
        return 1
    left = len(s.resources["consent"].erasures(pending=True))
    say(f"erasures: {len(pending) - left} finished" + (f", {left} still waiting" if left else ""))
    return 0


def register_contributors(instance, names: list[str]) -> None:
    """Adds the contributors' partitions. Two ingests started together both find a contributor new, and the
    instance refuses the second insert of a name: the one that loses finds it registered and adds only the rest."""
    for attempt in range(REGISTER_ATTEMPTS):
        known = set(instance.get_dynamic_partitions("contributors"))  # one query, not one per name
        missing = [name for name in names if name not in known]
        if not missing:
            return
        try:
            instance.add_dynamic_partitions("contributors", missing)
            return
        except Exception:  # noqa: BLE001 - a unique-key conflict (SQLite or PostgreSQL): look again
            if attempt == REGISTER_ATTEMPTS - 1:
                raise
