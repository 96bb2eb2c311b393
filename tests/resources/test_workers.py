"""Preprocessing workers never keep a run's process alive after the run, and give way to the warehouse process."""

from __future__ import annotations

import json
import multiprocessing
import os

from conftest import corpus, seoul

from onett_resources.worker_process import WORKER_NICENESS
from onett_resources.workers import Workers


def _ingest_one_submission(home: str) -> None:
    """What the daemon's run launcher does: run a job in a multiprocessing child process of its own."""
    os.environ["DAGSTER_HOME"] = home
    from dagster import DagsterInstance

    from onett_assets.definitions import build_definitions
    from onett_assets.partitions import submission_key
    from onett_resources import load_settings

    instance = DagsterInstance.get()
    instance.add_dynamic_partitions("contributors", ["alice"])
    job = build_definitions(load_settings()).resolve_job_def("ingest_submission")
    result = job.execute_in_process(instance=instance, partition_key=submission_key("alice", seoul(2026, 10, 1).date()))
    assert result.success


def test_a_run_process_that_used_the_workers_exits(onett):
    """A multiprocessing child waits for its own children when it exits, before anything could shut a process pool
    down: a pool left running kept every daemon-launched run's process (and its workers) alive until the daemon
    stopped. Enough text for `filtered` to use the workers, run the way the daemon runs it."""
    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz")]
    onett.drop("alice", "petitions.jsonl", "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts),
               seoul(2026, 10, 3, 10))
    child = multiprocessing.get_context("spawn").Process(target=_ingest_one_submission, args=(str(onett.home),))
    child.start()
    child.join(timeout=120)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the run's process did not exit: its preprocessing workers kept it alive"
    assert child.exitcode == 0
    assert onett.query("SELECT count(*) FROM documents")[0][0] == len(texts)


def _priority(_: int) -> tuple[int, int]:
    return os.getpid(), os.nice(0)


def test_local_workers_run_at_a_lower_priority_than_the_command():
    """In a pipelined ingest the warehouse process credits each submission beside the filtering: the workers yield
    the cores to it (and to the portal). Their niceness is the command's plus WORKER_NICENESS (at most 19)."""
    workers = Workers(processes=2)
    try:
        seen = dict(workers.map(_priority, [(n,) for n in range(8)]))
    finally:
        workers.release()
    assert os.getpid() not in seen, "the jobs ran in this process, not on the workers"
    assert set(seen.values()) == {min(os.nice(0) + WORKER_NICENESS, 19)}
