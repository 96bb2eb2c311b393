"""Preprocessing workers never keep a run's process alive after the run."""

from __future__ import annotations

import json
import multiprocessing
import os

from conftest import corpus, seoul


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
