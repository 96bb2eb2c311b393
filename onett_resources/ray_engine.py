"""Preprocessing jobs as tasks of a Ray cluster (`ONETT_RAY_ADDRESS`), instead of the local worker processes.

A job names its input and output parts on the shared storage and only its stats come back, so no document passes
through Ray; a job whose node died runs again. The process that connects must run on a node of the cluster, and every
node needs the same onett installed and the same storage paths (why Ray, and how to run it: docs/scaling-out.md).

Kept free of Dagster; `ray` is imported only when a cluster is configured (the `ray` extra)."""

from __future__ import annotations

import socket
import sys
from collections import Counter, deque
from typing import Any, Callable, Iterable, Iterator

from onett_resources.worker_process import WORKER_ENV, run_job

CONNECT_SECONDS = 10.0
RETRIES = 3  # a job is run again this many times when its worker or node is lost (not when it raises)


class EngineUnreachable(RuntimeError):
    """The configured cluster cannot be reached (or Ray is not installed): nothing was processed."""


class EngineFailure(RuntimeError):
    """A job was lost more times than it is retried (nodes died under it)."""


def _ray():
    try:
        import ray
    except ImportError:
        raise EngineUnreachable("ONETT_RAY_ADDRESS is set but Ray is not installed: pip install 'onett[ray]'") from None
    return ray


def connect(address: str) -> None:
    """Joins the cluster at `address` (host:port of its head) once per process; a clear `EngineUnreachable` when
    nothing answers there, before any job is sent."""
    ray = _ray()
    if ray.is_initialized():
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise EngineUnreachable(f"ONETT_RAY_ADDRESS={address!r} must be HOST:PORT of the Ray head node")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise EngineUnreachable(f"the Ray cluster at {address} (ONETT_RAY_ADDRESS) does not answer ({exc}); "
                                "start it (`ray start --head`) or unset ONETT_RAY_ADDRESS") from None
    try:
        ray.init(address=address, namespace="onett", log_to_driver=False, logging_level="WARNING",
                 runtime_env={"env_vars": WORKER_ENV})
    except Exception as exc:  # ConnectionError, or Ray's own errors when the head is not a Ray head
        raise EngineUnreachable(f"could not join the Ray cluster at {address} (ONETT_RAY_ADDRESS): {exc}") from None


def connected() -> bool:
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def cpus() -> int:
    return max(int(_ray().cluster_resources().get("CPU", 0)), 1)


class RayJobs:
    """`fn(*job)` for every job as a Ray task, results in job order, at most two tasks per cluster CPU in flight
    (memory stays bounded however many jobs there are). `nodes` counts the jobs each node ran."""

    def __init__(self, address: str):
        connect(address)
        self.address = address
        self.nodes: Counter[str] = Counter()

    def map(self, fn: Callable[..., Any], jobs: Iterable[tuple]) -> Iterator[Any]:
        ray = _ray()
        task = ray.remote(run_job).options(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)
        target = f"{fn.__module__}:{fn.__qualname__}"
        pending: deque = deque()
        limit = 2 * cpus()

        def take():
            try:
                result, node = ray.get(pending.popleft())
            except ray.exceptions.RayTaskError as exc:  # the job itself raised: its own error, as in-process
                raise exc.as_instanceof_cause() from None
            except ray.exceptions.RayError as exc:
                raise EngineFailure(f"a job was lost on the Ray cluster at {self.address} after "
                                    f"{RETRIES} retries: {exc}") from None
            self.nodes[node] += 1
            return result

        try:
            for job in jobs:
                pending.append(task.remote(target, *job))
                while len(pending) >= limit:
                    yield take()
            while pending:
                yield take()
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
