"""Worker processes for the per-document work of preprocessing, so an ingest uses every core (or, with
`ray_address`, the tasks of a Ray cluster: ray_engine.py).

Threads are not enough: the scans are many numpy and regex passes, and Python's GIL is held between them. The
pool is started once per process and reused by every run in it (the CLI runs many partitions in one process),
so a month of small uploads does not pay a process start per run. What runs inside a worker (worker_process.py
and the modules of its jobs) never loads Dagster, and a worker sets its own thread limits before polars is loaded.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator

from dagster import ConfigurableResource

from onett_resources import ray_engine
from onett_resources.ray_engine import RayJobs
from onett_resources.worker_process import init_local_worker

_pools: dict[int, ProcessPoolExecutor] = {}


def _pool(processes: int) -> ProcessPoolExecutor:
    pool = _pools.get(processes)
    if pool is None:
        # spawn, not fork: the parent runs threads (polars, Dagster) that a forked child would inherit mid-lock.
        pool = _pools[processes] = ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"), initializer=init_local_worker
        )
    return pool


def shutdown_pools() -> None:
    for pool in _pools.values():
        pool.shutdown(cancel_futures=True)
    _pools.clear()


class Workers(ConfigurableResource):
    """`processes`: worker processes (0: one per core; 1: everything in the calling process). `stay`: keep them for
    the next run in this process (the `onett` command runs many submissions in one process); otherwise `done`
    stops them when a step is over. A run launched by the daemon runs in a multiprocessing child, which at exit
    waits for its own children before anything could shut a pool down: workers left running keep it alive.
    `ray_address` (HOST:PORT of a Ray head): every job runs as a task of that cluster instead."""

    processes: int = 0
    stay: bool = False
    ray_address: str = ""

    def engine(self) -> str:
        return f"ray at {self.ray_address}" if self.ray_address else "local processes"

    def connect(self) -> RayJobs | None:
        """The cluster's job runner (joining it raises `EngineUnreachable` at once if it does not answer), or
        None for the local processes."""
        return RayJobs(self.ray_address) if self.ray_address else None

    def count(self) -> int:
        if self.ray_address:
            return ray_engine.cpus() if ray_engine.connected() else 1
        if self.processes > 0:
            return self.processes
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    def warm(self, fn: Callable[[], Any]) -> None:
        """Start the workers now and run `fn` (imports, tables) on them in the background, so the first real job
        does not wait for them: called while the caller has other things to do."""
        processes = self.count()
        if processes > 1 and not self.ray_address:
            pool = _pool(processes)
            for _ in range(processes):
                pool.submit(fn)

    def release(self, wait: bool = True) -> None:
        """Stop the workers (the next `map` starts new ones): their memory goes back to what comes next. Without
        `wait`, they exit while the caller goes on (Python waits for them when it exits)."""
        if self.ray_address:
            return
        pool = _pools.pop(self.count(), None)
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def done(self, release: bool = False) -> None:
        """A step is over: stop the workers unless they stay for the next run (`release` stops them anyway)."""
        if release or not self.stay:
            self.release()

    def map(self, fn: Callable[..., Any], jobs: Iterable[tuple], in_process: bool = False) -> Iterator[Any]:
        """`fn(*job)` for every job, results in job order. At most two jobs per worker are in flight, so memory
        stays bounded however many jobs the iterable yields. `in_process` runs them here (small work)."""
        processes = self.count()
        if in_process or processes <= 1:
            for job in jobs:
                yield fn(*job)
            return
        pool = _pool(processes)
        pending: deque[Future] = deque()
        try:
            for job in jobs:
                pending.append(pool.submit(fn, *job))
                while len(pending) >= 2 * processes:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the pool is unusable; the next run starts a new one.
            _pools.pop(processes, None)
            raise
        finally:
            for future in pending:
                future.cancel()
