"""Dagster's run queue with a pool against `onett ingest`'s own two-process scheduling, on the same landing zone.

    .venv/bin/python bench/run_queue.py [--corpora ../shared/corpora] [--contributors 6] [--rounds 2]
        [--variants A,B2,B3,B2w1,B3w1,C] [--json bench/results/run_queue.json] [--keep]

The landing zone is built like bench/throughput.py's (every corpus file, dealt round-robin to the contributors'
folders), once, and every variant ingests it on a fresh DAGSTER_HOME holding the project's dagster_home/dagster.yaml
(SQLite instance, run queue, pool `duckdb` of one slot):

  A      `onett ingest` as it is: one process filters partition after partition on its worker pool while a second
         process reads the next and deduplicates/counts the previous (onett_cli/runner.py).
  B<n>   `dagster-daemon run -w workspace.yaml` started with the landing zone populated: `landing_zone_sensor` queues
         one `ingest_submission` run per (contributor, month), the queued run coordinator runs up to n at once
         (`concurrency: runs: max_concurrent_runs`), each in a process of its own (DefaultRunLauncher), and the
         pool serializes the warehouse-writing steps. Ends when every run has finished (run records of the
         instance); the daemon's process group is then stopped. `w1` sets ONETT_WORKERS=1 (each run filters in its
         own process); without it each run starts a worker pool of one process per core.
  C      `onett ingest` with the overlap switched off: one `ingest_submission` run per partition, in order.
  B<n>t  (not run by default) B<n> with the queue settings of deploy/postgres/dagster.yaml: dequeue every 2 s from
         threads, and up to 4 runs may start while their first step waits for the pool.

Before each variant, `onett ingest` on an empty landing folder creates the instance and the warehouse and loads the
(empty) reference corpus, untimed: every variant starts from that same state, and the daemon's sensors find only
the landing zone to process (a partition's input fingerprint includes the reference corpus in use).

Measured per run: wall time (A, C: the command; B: from the daemon's start to the last run's end, and from the
first run's start to the last run's end, run start and end read from the instance), CPU seconds (user + system)
of the whole process tree (this script is a child subreaper, so orphans are reaped here and counted too), and
peak RSS sampled from /proc every 0.2 s over the process group (largest process, and all together). From the
event log: per run, the time queued, process launch (RUN_STARTING -> RUN_START: process start and code location
load), set-up before the first step, steps, waits between steps (the pool), teardown, and how long the run's
process lived on after its run had ended. Every warehouse is compared table by table, row for row (EXCEPT ALL
both ways), with the first A's. Variants run interleaved (round after
round), on a shared machine: compare medians and ratios within one run; the load average is recorded per run.
Linux only (/proc, prctl).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import throughput  # noqa: E402  (the landing zone, built the same way)

ROOT = HERE.parent  # the repository of the code under test: workspace.yaml, dagster_home/dagster.yaml
BIN = Path(sys.executable).parent  # executables of the Python running this script
ONETT = BIN / "onett"
DAEMON = BIN / "dagster-daemon"
PAGE = os.sysconf("SC_PAGE_SIZE")
INGEST_JOBS = ("ingest_submission", "read_submission", "filter_submission", "credit_submission")

# `onett ingest` with the overlap of onett_cli/runner.py switched off: every partition one `ingest_submission` run.
SERIAL_INGEST = (
    "import sys, onett_cli.runner as runner\n"
    "runner.PIPELINE_MIN_BYTES = float('inf')\n"
    "from onett_cli.main import main\n"
    "sys.exit(main(['ingest']))\n"
)


@dataclass(frozen=True)
class Variant:
    key: str
    kind: str  # "cli", "serial" or "queue"
    max_runs: int | None = None
    workers: str | None = None  # ONETT_WORKERS, None: unset
    tuned: bool = False  # the run queue settings of deploy/postgres/dagster.yaml on top of the project's file

    @property
    def label(self) -> str:
        if self.kind == "cli":
            return "A  onett ingest (two processes)"
        if self.kind == "serial":
            return "C  onett ingest, no overlap"
        workers = f"ONETT_WORKERS={self.workers}" if self.workers else "workers/run: per core"
        tuned = ", queue tuned" if self.tuned else ""
        return f"{self.key:<6s}run queue, {self.max_runs} runs, {workers}{tuned}"


VARIANTS = {
    "A": Variant("A", "cli"),
    "B2": Variant("B2", "queue", 2),
    "B3": Variant("B3", "queue", 3),
    "B2w1": Variant("B2w1", "queue", 2, "1"),
    "B3w1": Variant("B3w1", "queue", 3, "1"),
    "C": Variant("C", "serial"),
    # Not run by default: the queue as deploy/postgres/dagster.yaml sets it up (dequeue every 2 s from threads;
    # up to 4 runs may start while their first step waits for the pool, so process start-up overlaps work).
    "B2t": Variant("B2t", "queue", 2, tuned=True),
    "B3t": Variant("B3t", "queue", 3, tuned=True),
    "B2w1t": Variant("B2w1t", "queue", 2, "1", tuned=True),
    "B3w1t": Variant("B3w1t", "queue", 3, "1", tuned=True),
}
TUNED_QUEUE = {"dequeue_interval_seconds": 2, "dequeue_use_threads": True, "dequeue_num_workers": 4}
TUNED_RUN_BUFFER = 4
DEFAULT_VARIANTS = "A,B2,B3,B2w1,B3w1,C"

# Warehouse tables compared row for row. Text ids follow the order in which partitions were indexed: the index is
# compared through the content hash. Timestamps of when something was computed are left out.
SPECIAL = {
    "minhash_texts": "SELECT content_hash, signature FROM {db}.minhash_texts",
    # the bucket shards' rows, not the names of their files (which follow the order submissions were indexed in)
    "near_index_files": "SELECT t.content_hash, b.bucket FROM {db}_buckets b JOIN {db}.minhash_texts t USING (text_id)",
    "reference_state": "SELECT * EXCLUDE (updated_at) FROM {db}.reference_state",
    "payout_periods": "SELECT * EXCLUDE (closed_at) FROM {db}.payout_periods",
    "payout_adjustments": "SELECT * EXCLUDE (recorded_at) FROM {db}.payout_adjustments",
}


# ---- processes: peak RSS and CPU of a whole tree --------------------------------------------------------------

def become_subreaper() -> bool:
    """Orphaned descendants (a run process whose parent was stopped first, say) are re-parented to this process
    instead of init, so they are reaped here and their CPU time reaches RUSAGE_CHILDREN."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _processes() -> dict[int, tuple[int, int, int, str]]:
    """pid -> (parent pid, process group, RSS bytes, state), from /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        out[int(entry)] = (int(fields[1]), int(fields[2]), int(fields[21]) * PAGE, fields[0])
    return out


def _tree(root: int, procs: dict[int, tuple[int, int, int, str]]) -> set[int]:
    """`root`'s process group, its descendants, and any process re-parented to this one."""
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, *_) in procs.items():
        children[ppid].append(pid)
    members = {pid for pid, (ppid, pgid, *_) in procs.items() if pgid == root or ppid == os.getpid()}
    todo = [root, *members]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            if child not in members:
                members.add(child)
                todo.append(child)
    return {pid for pid in members | {root} if pid in procs}


def _name(pid: int) -> str:
    """A process's command line, shortened: `python -m dagster api grpc ...`, a spawned worker..."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = [a.decode(errors="replace") for a in handle.read().split(b"\0") if a]
    except OSError:
        return "?"
    argv = [Path(argv[0]).name, *argv[1:]] if argv else ["?"]
    return " ".join(argv)[:90]


class Sampler(threading.Thread):
    """Peak RSS of a process tree (largest process, and all together), every `interval` seconds; when each of its
    processes was first and last seen; how many other processes (not this benchmark's) were runnable."""

    def __init__(self, root: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_total = self.peak_one = self.most_processes = 0
        self.at_peak: list[tuple[float, str]] = []
        self.seen: dict[int, list[float]] = {}  # pid -> [first, last] seen (epoch seconds)
        self.samples = self.others_running = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            procs = _processes()
            members = _tree(self.root, procs)
            now = time.time()
            for pid in members:
                if procs[pid][3] != "Z":
                    self.seen.setdefault(pid, [now, now])[1] = now
            self.samples += 1
            self.others_running += sum(1 for pid, p in procs.items()
                                       if p[3] == "R" and pid not in members and pid != os.getpid())
            rss = [procs[pid][2] for pid in members]
            if sum(rss) > self.peak_total:
                self.at_peak = sorted(((procs[pid][2] / 2**20, _name(pid)) for pid in members), reverse=True)
            self.peak_total = max(self.peak_total, sum(rss))
            self.peak_one = max(self.peak_one, max(rss, default=0))
            self.most_processes = max(self.most_processes, len(members))
            self._stop_event.wait(self.interval)

    def stop(self) -> dict:
        self._stop_event.set()
        self.join()
        return {"peak_rss_mb": self.peak_one / 2**20, "peak_total_rss_mb": self.peak_total / 2**20,
                "most_processes": self.most_processes,
                "others_runnable_mean": self.others_running / max(1, self.samples),
                "seen": {pid: times for pid, times in self.seen.items()},
                "processes_at_peak": [f"{mb:.0f} MB {name}" for mb, name in self.at_peak]}


def _reap_all(group: int, grace: float = 30.0) -> None:
    """Waits for every remaining child (orphans re-parented here included); kills the group after `grace` s."""
    deadline = time.monotonic() + grace
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            continue
        if time.monotonic() > deadline:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = float("inf")
        time.sleep(0.05)


def _stop_group(proc: subprocess.Popen) -> None:
    """The daemon, its code server and every process they started: the whole process group."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# ---- a platform per variant --------------------------------------------------------------------------------

def prepare_home(home: Path, variant: Variant, env: dict) -> None:
    """A fresh DAGSTER_HOME with the project's dagster.yaml (max_concurrent_runs set for the variant), the
    instance and the warehouse created and the (empty) reference corpus loaded, by `onett ingest` on an empty
    landing folder."""
    import yaml

    home.mkdir(parents=True)
    config = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    if variant.max_runs:
        config.setdefault("concurrency", {}).setdefault("runs", {})["max_concurrent_runs"] = variant.max_runs
    if variant.tuned:
        config["run_queue"] = {**config.get("run_queue", {}), **TUNED_QUEUE}
        config["concurrency"].setdefault("pools", {})["op_granularity_run_buffer"] = TUNED_RUN_BUFFER
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    empty = home / "empty-landing"
    empty.mkdir()
    out = subprocess.run([str(ONETT), "ingest"], env={**env, "ONETT_LANDING_DIR": str(empty)},
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"setting up {home} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


def run_command(argv: list[str], env: dict, log: Path) -> dict:
    """A/C: the command in a process group of its own; wall, CPU of its tree, peak RSS."""
    load = os.getloadavg()
    cpu_before = _children_cpu()
    started_at = time.time()
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        sampler = Sampler(proc.pid)
        sampler.start()
        proc.wait()
        wall = time.perf_counter() - started
        _reap_all(proc.pid)
    memory = sampler.stop()
    cpu = _children_cpu() - cpu_before
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:2])} failed ({proc.returncode}):\n{log.read_text()[-4000:]}")
    return {"wall": wall, "cpu": cpu, "started_at": started_at, "load_before": load, "load_after": os.getloadavg(),
            **memory}


def run_queue(env: dict, home: Path, expected: int, timeout: float) -> dict:
    """B: the daemon until every `ingest_submission` run it queued has finished (run records of the instance)."""
    from dagster import DagsterInstance, DagsterRunStatus

    done = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    instance = DagsterInstance.from_config(str(home))
    load = os.getloadavg()
    cpu_before = _children_cpu()
    started_at = time.time()
    started = time.perf_counter()
    log = home / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen([str(DAEMON), "run", "-w", str(ROOT / "workspace.yaml")], env=env, cwd=ROOT,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        sampler = Sampler(daemon.pid)
        sampler.start()
        error = ""
        try:
            while True:
                records = instance.get_run_records()
                ingest = [r for r in records if r.dagster_run.job_name == "ingest_submission"]
                if len(ingest) >= expected and all(r.dagster_run.status in done for r in records):
                    break
                if daemon.poll() is not None:
                    error = f"the daemon exited ({daemon.returncode})"
                    break
                if time.perf_counter() - started > timeout:
                    error = f"runs not finished after {timeout:.0f} s"
                    break
                time.sleep(0.5)
            seen_done = time.perf_counter() - started
            stopped_at = time.time()
        finally:
            _stop_group(daemon)
            _reap_all(daemon.pid)
    memory = sampler.stop()
    cpu = _children_cpu() - cpu_before
    instance.dispose()
    if error:
        sys.exit(f"{error}:\n{log.read_text()[-4000:]}")
    return {"started_at": started_at, "seen_done": seen_done, "stopped_at": stopped_at, "cpu": cpu,
            "load_before": load,
            "load_after": os.getloadavg(), **memory}


# ---- what the instance recorded -------------------------------------------------------------------------------

def run_details(home: Path) -> list[dict]:
    """Per run of this home: job, partition, status and the times of its events (epoch seconds)."""
    from dagster import DagsterEventType as E, DagsterInstance

    marks = {E.RUN_ENQUEUED: "enqueued", E.RUN_DEQUEUED: "dequeued", E.RUN_STARTING: "starting",
             E.RUN_START: "start", E.RUN_SUCCESS: "end", E.RUN_FAILURE: "end", E.RUN_CANCELED: "end"}
    instance = DagsterInstance.from_config(str(home))
    out = []
    for record in instance.get_run_records():
        run = record.dagster_run
        row = {"job": run.job_name, "partition": run.tags.get("dagster/partition"), "status": run.status.value,
               "created": record.create_timestamp.timestamp(), "record_start": record.start_time,
               "record_end": record.end_time, "steps": {}, "pids": set()}
        starts: dict[str, float] = {}
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.pid:
                row["pids"].add(event.pid)
            if event.event_type in marks:
                row.setdefault(marks[event.event_type], entry.timestamp)
            elif event.event_type == E.STEP_START:
                starts[entry.step_key] = entry.timestamp
            elif event.event_type in (E.STEP_SUCCESS, E.STEP_FAILURE):
                row["steps"][entry.step_key] = (starts.get(entry.step_key, entry.timestamp), entry.timestamp)
        row["pids"] = sorted(row["pids"])
        out.append(row)
    instance.dispose()
    return out


def _lived_after(run: dict, seen: dict | None, stopped: float | None) -> float | str | None:
    if not seen or len(run["pids"]) != 1 or run["pids"][0] not in seen:
        return None
    last = seen[run["pids"][0]][1]
    if stopped is not None and last >= stopped - 1.0:
        # alive when the platform was stopped: stuck if its run had ended well before, else unknown
        return "until stopped" if stopped - run["end"] > 5.0 else None
    return last - run["end"]


def summarize_runs(runs: list[dict], origin: float, seen: dict | None = None, stopped: float | None = None) -> dict:
    """The ingest runs' span and where a run's time goes besides its steps; with `seen` (pid -> first and last
    seen alive), how long each run's process lived on after its run ended (None: still alive when the platform
    was stopped at `stopped`)."""
    ingest = [r for r in runs if r["job"] in INGEST_JOBS]
    for r in ingest:  # a run that failed before its events: the run record's times
        r.setdefault("start", r["record_start"] or r["created"])
        r.setdefault("end", r["record_end"] or r["start"])
    first_start = min(r["start"] for r in ingest)
    last_end = max(r["end"] for r in ingest)
    per_run = []
    for r in ingest:
        steps = sorted(r["steps"].values())
        in_steps = sum(b - a for a, b in steps)
        gaps = sum(max(0.0, b[0] - a[1]) for a, b in zip(steps, steps[1:]))
        per_run.append({
            "job": r["job"], "partition": r["partition"],
            "queued": r["starting"] - r["enqueued"] if "starting" in r and "enqueued" in r else None,
            "launch": r["start"] - r["starting"] if "starting" in r else None,
            "before_first_step": steps[0][0] - r["start"] if steps else None,
            "in_steps": in_steps,
            "between_steps": gaps,
            "after_last_step": r["end"] - steps[-1][1] if steps else None,
            "run": r["end"] - r["start"],
            "start": r["start"] - origin, "end": r["end"] - origin,
            "steps": {k: b - a for k, (a, b) in r["steps"].items()},
            "process_lived_after_end": _lived_after(r, seen, stopped),
        })
    enqueued = [r["enqueued"] for r in ingest if "enqueued" in r]
    pool_steps = sorted((a, b) for r in ingest for k, (a, b) in r["steps"].items() if k != "filtered")
    overlap = sum(max(0.0, b0 - a1) for (_, b0), (a1, _) in zip(pool_steps, pool_steps[1:]) if a1 < b0)
    spans = sorted((r["start"], r["end"]) for r in ingest)
    return {
        "runs": len(ingest),
        "failed": [f"{r['job']} {r['partition']}: {r['status']}" for r in ingest if r["status"] != "SUCCESS"],
        "first_start": first_start - origin,
        "first_enqueued": min(enqueued) - origin if enqueued else None,
        "last_end": last_end - origin,
        "span": last_end - first_start,
        "from_first_enqueued": last_end - min(enqueued) if enqueued else None,
        "most_at_once": max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans),
        "duckdb_steps_overlap_s": overlap,
        "run_processes": len({p for r in ingest for p in r["pids"]}),
        "per_run": per_run,
    }


# ---- warehouses, row for row ------------------------------------------------------------------------------------

def compare_warehouses(reference: Path, other: Path, scratch: Path) -> dict:
    """Per table: rows in each, rows only in one of them (as multisets)."""
    import duckdb

    from onett_domain.credit.bucket_index import folder_of

    conn = duckdb.connect()
    conn.execute(f"SET memory_limit = '2GB'; SET temp_directory = '{scratch}'; SET threads = 2")
    conn.execute(f"ATTACH '{reference}' AS ref (READ_ONLY)")
    conn.execute(f"ATTACH '{other}' AS other (READ_ONLY)")
    for db, path in (("ref", reference), ("other", other)):
        files = [str(folder_of(path) / f) for (f,) in conn.execute(f"SELECT file FROM {db}.near_index_files").fetchall()]
        conn.execute(f"CREATE TEMP VIEW {db}_buckets AS " + (
            f"SELECT bucket, text_id FROM read_parquet({files})" if files
            else "SELECT NULL::BIGINT AS bucket, NULL::BIGINT AS text_id WHERE FALSE"))
    tables = [t for (t,) in conn.sql("SELECT table_name FROM duckdb_tables() WHERE database_name = 'ref' "
                                     "ORDER BY table_name").fetchall()]
    out = {}
    for table in tables:
        query = SPECIAL.get(table, "SELECT * FROM {db}." + table)
        a, b = query.format(db="ref"), query.format(db="other")
        try:
            rows_a = conn.sql(f"SELECT count(*) FROM ({a})").fetchall()[0][0]
            rows_b = conn.sql(f"SELECT count(*) FROM ({b})").fetchall()[0][0]
            only_a = conn.sql(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchall()[0][0]
            only_b = conn.sql(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchall()[0][0]
        except duckdb.Error as exc:
            out[table] = {"error": str(exc).splitlines()[0]}
            continue
        out[table] = {"rows": rows_a, "rows_other": rows_b, "only_in_reference": only_a, "only_in_other": only_b,
                      "equal": rows_a == rows_b and only_a == 0 and only_b == 0}
    conn.close()
    return out


# ---- the benchmark ---------------------------------------------------------------------------------------------

def code_location_cost(env: dict, repeats: int = 3) -> dict:
    """What every run process pays before its first event: the Python start, `import dagster`, and loading the
    code location (the definitions module imports dagster, polars, duckdb, tiktoken...)."""
    out = {}
    for name, code in (("python", "pass"), ("import dagster", "import dagster"),
                       ("import onett_assets.definitions", "import onett_assets.definitions")):
        walls, cpus = [], []
        for _ in range(repeats):
            cpu = _children_cpu()
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True)
            walls.append(time.perf_counter() - started)
            cpus.append(_children_cpu() - cpu)
        out[name] = {"wall": statistics.median(walls), "cpu": statistics.median(cpus)}
    return out


def one_run(variant: Variant, work: Path, landing: Path, n: int, expected: int, timeout: float) -> dict:
    home = work / f"{variant.key}-{n}"
    env = {k: v for k, v in os.environ.items() if k != "ONETT_WORKERS"}
    env.update({"DAGSTER_HOME": str(home), "ONETT_LANDING_DIR": str(landing), "ONETT_SETTLE_SECONDS": "0"})
    if variant.workers:
        env["ONETT_WORKERS"] = variant.workers
    prepare_home(home, variant, env)
    if variant.kind == "queue":
        measured = run_queue(env, home, expected, timeout)
    else:
        argv = [str(ONETT), "ingest"] if variant.kind == "cli" else [sys.executable, "-c", SERIAL_INGEST]
        measured = run_command(argv, env, home / "ingest.log")
    seen = measured.pop("seen")
    runs = summarize_runs(run_details(home), measured["started_at"], seen if variant.kind == "queue" else None,
                          measured.get("stopped_at"))
    if variant.kind == "queue":
        measured["wall"] = runs["last_end"]  # daemon start -> last run's end
    measured["runs"] = runs
    measured["home"] = str(home)
    return measured


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(results: dict, variants: list[Variant]) -> None:
    rows = []
    base = results["variants"].get("A", {}).get("median", {})
    for v in variants:
        median = results["variants"][v.key]["median"]
        ratio = lambda key: (median[key] / base[key]) if base.get(key) and median.get(key) else None  # noqa: E731
        rows.append([v.label, str(len(results["variants"][v.key]["runs"])),
                     _fmt(median["wall"]), _fmt(ratio("wall"), 2),
                     _fmt(median["span"]), _fmt(ratio("span"), 2),
                     _fmt(median["first_enqueued"]), _fmt(median["first_start"]),
                     _fmt(median["cpu"], 0), _fmt(ratio("cpu"), 2),
                     _fmt(median["peak_rss_mb"], 0), _fmt(median["peak_total_rss_mb"], 0),
                     median["tables"]])
    header = ["variant", "n", "wall s", "xA", "runs span s", "xA", "1st queued", "1st start", "CPU s", "xA",
              "RSS max MB", "RSS all MB", "tables = A"]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print()
    print(line(header))
    for row in rows:
        print(line(row))
    print("\nwall: A and C the whole command; B from the daemon's start to the last run's end. runs span: first run's "
          "start\nto last run's end (instance records). 1st queued / 1st start: seconds after the command or the "
          "daemon started.")
    print("\nper ingest run (medians over runs): queued, launch (RUN_STARTING -> RUN_START: process start, code "
          "location\nload), before the first step, between steps (pool waits), after the last step, in steps")
    for v in variants:
        per = [r for run in results["variants"][v.key]["runs"] for r in run["runs"]["per_run"]]
        cells = {k: _median([r[k] for r in per]) for k in
                 ("queued", "launch", "before_first_step", "between_steps", "after_last_step", "in_steps", "run")}
        total_overhead = _median([sum(r[k] or 0 for k in ("launch", "before_first_step", "after_last_step"))
                                  for r in per])
        print(f"  {v.label:45s} runs/ingest {len(per) / max(1, len(results['variants'][v.key]['runs'])):4.0f}  "
              + "  ".join(f"{k} {_fmt(x, 2)}" for k, x in cells.items())
              + f"  (launch+set-up+teardown {_fmt(total_overhead, 2)})")
        lived = [r["process_lived_after_end"] for r in per if r["process_lived_after_end"] is not None]
        if lived:
            stuck = sum(1 for x in lived if x == "until stopped")
            ended = [x for x in lived if x != "until stopped"]
            print(f"  {'':45s} run processes alive until the daemon was stopped: {stuck} of {len(lived)}"
                  + (f"; the others exited {_fmt(_median(ended), 1)} s after their run (median)" if ended else ""))
    print("\nload average (1 min) before each run: "
          + "; ".join(f"{k} " + ",".join(f"{r['load_before'][0]:.2f}" for r in data["runs"])
                      for k, data in results["variants"].items()))
    print("other processes runnable meanwhile (mean of the 0.2 s samples): "
          + "; ".join(f"{k} " + ",".join(f"{r['others_runnable_mean']:.2f}" for r in data["runs"])
                      for k, data in results["variants"].items()))
    costs = results.get("process_costs")
    if costs:
        print("a bare process (wall / CPU s, medians): "
              + "; ".join(f"{k} {c['wall']:.2f} / {c['cpu']:.2f}" for k, c in costs.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--contributors", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="runs of every variant, interleaved")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--limit-mb", type=float, default=0, help="only the first corpus files up to this size (a smoke test)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a run-queue variant may take")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "run_queue.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary platforms")
    args = parser.parse_args()
    variants = [VARIANTS[k.strip()] for k in args.variants.split(",") if k.strip()]
    if "A" not in [v.key for v in variants]:
        variants.insert(0, VARIANTS["A"])  # the reference for ratios and tables
    for exe in (ONETT, DAEMON):
        if not exe.exists():
            sys.exit(f"{exe} not found: run this script with the Python of the project's virtualenv")
    if not become_subreaper():
        print("warning: could not become a child subreaper; CPU of orphaned processes may be missed",
              file=sys.stderr)

    files = throughput.corpus_texts(args.corpora)
    if not files:
        sys.exit(f"no corpus files under {args.corpora} (expected */*.jsonl.gz): pass --corpora")
    if args.limit_mb:
        kept, total = {}, 0
        for name, texts in files.items():
            if total >= args.limit_mb * 1e6:
                break
            kept[name], total = texts, total + sum(len(t.encode()) for t in texts)
        files = kept
    work = Path(tempfile.mkdtemp(prefix="onett-run-queue-"))
    results: dict = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                     "python": sys.executable, "root": str(ROOT), "variants": {}}
    try:
        landing = work / "landing"
        size, docs = throughput.build_landing(files, landing, args.contributors)
        expected = sum(1 for p in landing.iterdir() if p.is_dir())
        results.update({"mb": size / 1e6, "documents": docs, "partitions": expected})
        print(f"landing zone: {args.contributors} contributors, {size / 1e6:.1f} MB of JSONL, {docs:,} documents, "
              f"{expected} partitions; platforms under {work}; load average {os.getloadavg()[0]:.2f}")
        results["process_costs"] = code_location_cost({**os.environ, "DAGSTER_HOME": str(work)})
        reference: Path | None = None
        for n in range(1, args.rounds + 1):
            for v in variants:
                measured = one_run(v, work, landing, n, expected, args.timeout)
                runs = measured["runs"]
                home = Path(measured.pop("home"))
                warehouse = home / "onett.duckdb"
                if reference is None:
                    reference = warehouse
                    measured["tables"] = None
                else:
                    scratch = work / "compare.tmp"
                    measured["tables"] = compare_warehouses(reference, warehouse, scratch)
                    shutil.rmtree(scratch, ignore_errors=True)
                    if not args.keep:
                        shutil.rmtree(home, ignore_errors=True)
                results["variants"].setdefault(v.key, {"label": v.label, "runs": []})["runs"].append(measured)
                differ = [t for t, c in (measured["tables"] or {}).items() if not c.get("equal")]
                print(f"[{n}/{args.rounds}] {v.label}: wall {measured['wall']:.1f} s, runs span {runs['span']:.1f} s "
                      f"(first start at {runs['first_start']:.1f} s), CPU {measured['cpu']:.0f} s, peak RSS "
                      f"{measured['peak_rss_mb']:.0f} / {measured['peak_total_rss_mb']:.0f} MB, "
                      f"{runs['runs']} runs in {runs['run_processes']} process(es), at most {runs['most_at_once']} "
                      f"at once, load {measured['load_before'][0]:.2f}, others runnable "
                      f"{measured['others_runnable_mean']:.2f}"
                      + ("" if measured["tables"] is None else
                         f", tables {'equal to the first A' if not differ else 'DIFFER: ' + ', '.join(differ)}")
                      + (f"; FAILED: {runs['failed']}" if runs["failed"] else ""), flush=True)
        for key, data in results["variants"].items():
            got = data["runs"]
            compared = [r["tables"] for r in got if r["tables"] is not None]
            data["median"] = {
                "wall": _median([r["wall"] for r in got]),
                "span": _median([r["runs"]["span"] for r in got]),
                "from_first_enqueued": _median([r["runs"]["from_first_enqueued"] for r in got]),
                "first_enqueued": _median([r["runs"]["first_enqueued"] for r in got]),
                "first_start": _median([r["runs"]["first_start"] for r in got]),
                "cpu": _median([r["cpu"] for r in got]),
                "peak_rss_mb": _median([r["peak_rss_mb"] for r in got]),
                "peak_total_rss_mb": _median([r["peak_total_rss_mb"] for r in got]),
                "tables": ("all equal" if all(all(c.get("equal") for c in t.values()) for t in compared)
                           else "DIFFER") if compared else "(reference)",
            }
        report(results, variants)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"\nresults: {args.json}")


if __name__ == "__main__":
    main()
