"""Scale-out, for real: the instance of deploy/postgres/dagster.yaml (Dagster's state in PostgreSQL, a run
queue, every run in a process of its own, the DuckDB pool claimed in PostgreSQL) against a real PostgreSQL
server started here on loopback, compared with the embedded `onett ingest` on the same uploads.

Skips cleanly where no PostgreSQL server binaries are installed (`.ci/run` installs Debian's `postgresql`
when it can) or where the shared corpora are absent."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import conftest
from assets.scale_out_uploads import PETITIONS, TABLES, fill, snapshot
from conftest import ROOT, distinct_texts
from postgres_server import postgres  # noqa: F401  (the fixture)

DEPLOY_CONFIG = ROOT / "deploy" / "postgres" / "dagster.yaml"
VENV_BIN = Path(sys.executable).parent
RACING_CLAIM = 1.0  # seconds between the starts of two steps that claimed the pool's slot at the same instant

# ---- the test -----------------------------------------------------------------------------------------------

def _wait_for_runs(instance, expected: int, daemon: subprocess.Popen, log: Path, timeout: float):
    from dagster import DagsterRunStatus

    done = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = instance.get_run_records()
        if len(records) >= expected and all(r.dagster_run.status in done for r in records):
            return records
        if daemon.poll() is not None:
            pytest.fail(f"the daemon exited ({daemon.returncode}):\n{log.read_text()[-4000:]}")
        time.sleep(1)
    states = [(r.dagster_run.job_name, r.dagster_run.tags.get("dagster/partition"), r.dagster_run.status.value)
              for r in instance.get_run_records()]
    pytest.fail(f"runs not done after {timeout:.0f}s: {states}\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    """The daemon, its code server and any run process it started: the whole process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def test_postgres_instance_runs_partitions_in_parallel_processes(onett, postgres, tmp_path, monkeypatch, request):
    """The daemon's sensor queues one run per partition, each runs in its own process, they overlap in time,
    the steps that write DuckDB wait for each other (their pool's slot is held in PostgreSQL), and the warehouse ends
    up row for row what the embedded `onett ingest` + `onett close` make of the same uploads."""
    texts = distinct_texts(*PETITIONS, 15)

    # 1. The embedded platform (SQLite instance, `onett ingest` running every partition in one process): the
    # result the scaled-out set-up must reproduce. It runs in the background meanwhile, on its own DAGSTER_HOME.
    fill(onett, texts)
    baseline_log = tmp_path / "baseline.log"
    with open(baseline_log, "w") as out:
        baseline = subprocess.Popen(
            [sys.executable, "-c", "import sys; from onett_cli.main import main; "
             "sys.exit(main(['ingest']) or main(['close', '2026-09']) or main(['close', '2026-10']))"],
            cwd=ROOT, env={**os.environ, "DAGSTER_HOME": str(onett.home)}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    request.addfinalizer(lambda: _stop(baseline))

    # 2. The same uploads on the PostgreSQL instance of deploy/postgres/dagster.yaml.
    home = tmp_path / "scaled_home"
    home.mkdir()
    shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
    bed = conftest.Testbed(home)
    fill(bed, texts)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for key, value in postgres.env().items():
        monkeypatch.setenv(key, value)
    # An operator loads the reference corpus and the revenue first (in-process `onett` works on the shared
    # instance too): submissions are checked against the corpus in force when they are processed.
    session = bed.session()
    assert session.run("refresh_reference").success
    for month in ("2026-09-01", "2026-10-01"):
        assert session.run("load_revenue", month).success
    instance = session.instance
    assert [type(instance.run_storage).__name__, type(instance.event_log_storage).__name__,
            type(instance.run_coordinator).__name__, type(instance.run_launcher).__name__] == [
        "PostgresRunStorage", "PostgresEventLogStorage", "QueuedRunCoordinator", "DefaultRunLauncher"]

    # The daemon: its sensor registers the contributors and requests one run per partition; the queue hands
    # them to the run launcher, which starts each in a process of its own.
    log = tmp_path / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen(
            [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")], cwd=ROOT,
            env={**os.environ, "ONETT_SETTLE_SECONDS": "0"}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        records = _wait_for_runs(instance, expected=3 + 4, daemon=daemon, log=log, timeout=240)
    finally:
        _stop(daemon)

    from dagster import DagsterEventType, DagsterRunStatus

    launched = [r for r in records if r.dagster_run.tags.get("dagster/sensor_name")]
    by_job = {}
    for r in launched:
        by_job.setdefault(r.dagster_run.job_name, []).append(r)
    failed = [(r.dagster_run.job_name, r.dagster_run.tags.get("dagster/partition"))
              for r in records if r.dagster_run.status != DagsterRunStatus.SUCCESS]
    assert not failed, f"runs failed: {failed}\n{log.read_text()[-4000:]}"
    assert set(by_job) == {"ingest_submission"} and len(by_job["ingest_submission"]) == 4, by_job

    # Every run executed in a process of its own, none of them the test's or the daemon's.
    pids = {}
    for r in launched:
        events = instance.all_logs(r.dagster_run.run_id, of_type=DagsterEventType.RUN_START)
        pids[r.dagster_run.run_id] = {e.dagster_event.pid for e in events}
    assert all(len(p) == 1 for p in pids.values()), pids
    run_pids = [next(iter(p)) for p in pids.values()]
    assert len(set(run_pids)) == len(launched) and not {os.getpid(), daemon.pid} & set(run_pids)

    # Runs really overlapped in time (start and end as recorded in the PostgreSQL run storage).
    spans = sorted((r.start_time, r.end_time) for r in launched)
    overlapping = sum(1 for (s1, e1), (s2, e2) in zip(spans, spans[1:]) if s2 < e1)
    assert overlapping >= 1, spans
    most_at_once = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most_at_once >= 2

    # The DuckDB pool's one slot lives in PostgreSQL, and no two warehouse-writing steps ever ran at once.
    assert instance.event_log_storage.get_concurrency_info("duckdb").slot_count == 1
    job = session.defs.resolve_job_def("ingest_submission")
    pool_steps = {n.name for n in job.graph.nodes if n.definition.pool == "duckdb"}
    assert "deduped" in pool_steps and "filtered" not in pool_steps
    intervals = []
    for r in launched:
        starts = {}
        for entry in instance.all_logs(r.dagster_run.run_id, of_type={
                DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}):
            step = entry.step_key
            if step not in pool_steps:
                continue
            if entry.dagster_event_type == DagsterEventType.STEP_START:
                starts[step] = entry.timestamp
            else:
                intervals.append((starts.pop(step), entry.timestamp, r.dagster_run.run_id[:8], step))
    assert len(intervals) == 4 * len(pool_steps)
    intervals.sort()
    # Dagster claims a slot in PostgreSQL with a SELECT ... FOR UPDATE on an autocommit connection, so two steps
    # asking in the same instant can both get it (the warehouse's own lock then makes one wait). Any other overlap
    # means the pool did not hold the steps back.
    for before, after in zip(intervals, intervals[1:]):
        assert after[0] >= before[1] or after[0] - before[0] < RACING_CLAIM, \
            f"duckdb pool steps overlapped: {before} and {after}"

    # 3. Closing the months on the shared instance gives the same payouts, and every table is identical.
    bed.ok("close", "2026-09")
    bed.ok("close", "2026-10")
    got = snapshot(bed)
    baseline.wait(timeout=300)
    assert baseline.returncode == 0, baseline_log.read_text()[-4000:]
    expected = snapshot(onett)
    assert {s for (s,) in onett.query("SELECT DISTINCT status FROM documents")} >= {
        "accepted", "duplicate", "near_duplicate", "reference"}, "the uploads exercise every kind of credit decision"
    for table in TABLES:
        assert got[table] == expected[table], f"{table} differs between the embedded and the scaled-out set-up"
