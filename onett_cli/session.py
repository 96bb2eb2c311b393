"""The settings, definitions and Dagster instance one command works with, and how a run's result is reported."""

from __future__ import annotations

import fcntl
import logging
import os
from datetime import date, datetime
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from onett_assets.definitions import build_definitions, build_resources
from onett_assets.progress import LOG as PROGRESS
from onett_resources import load_settings


def say(message: str) -> None:
    print(message, flush=True)


class _SayProgress(logging.Handler):
    """Prints the `onett.progress` lines of a long step (onett_assets/progress.py) under the partition's line."""

    def emit(self, record: logging.LogRecord) -> None:
        say(f"    {record.getMessage()}")


def show_progress() -> None:
    log = logging.getLogger(PROGRESS.name)
    if not any(isinstance(h, _SayProgress) for h in log.handlers):
        log.addHandler(_SayProgress())
    log.setLevel(logging.INFO)
    log.propagate = False


def prepare_home() -> Path:
    """Dagster needs an absolute, existing DAGSTER_HOME; default to ./dagster_home like `make run`."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        bundled = Path(__file__).resolve().parent.parent / "dagster_home" / "dagster.yaml"
        config.write_text(bundled.read_text() if bundled.exists() else "telemetry:\n  enabled: false\n")
    return home


class Session:
    """One command's Settings (read once), the definitions and resources built from them, and the instance."""

    def __init__(self) -> None:
        prepare_home()
        show_progress()
        self.settings = load_settings()
        self.policy = self.settings.policy
        # one process runs many submissions: the preprocessing workers stay from one run to the next
        self.defs = build_definitions(self.settings, keep_workers=True)
        self.resources = build_resources(self.settings, keep_workers=True)
        # Two `onett` processes starting on a fresh DAGSTER_HOME would both create Dagster's SQLite schema (alembic
        # then finds two heads): let one create it while the other waits.
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
            run_config={"loggers": {"console": {"config": {"log_level": self.settings.log_level}}}},
            tags={"onett/source": "cli", "onett/pid": str(os.getpid()), **(tags or {})},
        )

    def today(self) -> date:
        return datetime.now(self.policy.tz).date()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_orphaned_runs(instance: DagsterInstance) -> None:
    """Runs of an `onett` process that was killed stay 'started' and keep their DuckDB pool slot, which would make
    every later run wait forever: mark them failed and free their slots (the daemon does this for the runs it
    launches). Their partial work was never committed, so the next run simply does it again."""
    runs = instance.get_runs(RunsFilter(
        statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING], tags={"onett/source": "cli"}))
    for run in runs:
        pid = run.tags.get("onett/pid", "")
        if pid.isdigit() and not _alive(int(pid)):
            instance.report_run_failed(run, f"the onett process {pid} running it was killed")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            say(f"recovered run {run.run_id[:8]} ({run.job_name} {run.tags.get('dagster/partition', '')}) "
                "of a killed onett process: its uncommitted work is redone")


def failure(result) -> str:
    """The first step failure of a run, as one line (the error that caused it, not Dagster's wrapper)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and "Error occurred while executing" in error.message.split("\n")[0]:
                error = error.cause
            message = error.message.strip()
            named, _, said = message.partition(": ")
            if error.cls_name == "Failure" and named.endswith("Failure") and said:  # raised on purpose
                message = said
            return f"{event.step_key}: {message}"
    return "run failed (see the Dagster UI for the logs)"


def run_metadata(result, node: str, key: str):
    """A metadata value an asset of the run reported."""
    for materialization in result.asset_materializations_for_node(node):
        entry = materialization.metadata.get(key)
        if entry is not None:
            return entry.value
    return None
