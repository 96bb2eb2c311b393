"""What runs inside a preprocessing worker process (local or on a Ray node) before and after its jobs. Kept free of
Dagster (and so is every module a job imports): a worker then starts in about a third of the time."""

from __future__ import annotations

import ctypes
import importlib
import os

# One thread per worker: the workers already fill the cores, and oversubscribed threads only contend.
WORKER_ENV = {"POLARS_MAX_THREADS": "1", "ONETT_SCAN_THREADS": "1", "RAYON_NUM_THREADS": "1"}
# Local workers yield the cores to the warehouse process (and the portal): in a pipelined ingest the credit of each
# filtered submission is the chain that ends last, while filtering has work queued for every core all along.
WORKER_NICENESS = 5


def init_worker() -> None:
    os.environ.update(WORKER_ENV)


def init_local_worker() -> None:
    """A worker of the local process pool: thread limits, a lower priority, and its name in `top`."""
    init_worker()
    os.nice(WORKER_NICENESS)
    name_process("onett-worker")


def name_process(name: str) -> None:
    """Show this process as `name` (at most 15 bytes) in top, `ps -o comm` and /proc/<pid>/comm, so an operator (and
    bench/throughput.py) tells the workers and the warehouse process from the command. A no-op without glibc."""
    try:
        ctypes.CDLL("libc.so.6").prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def run_job(target: str, *args):
    """`module:function`(*args) in a Ray task, with the node that ran it: the function is imported here, after the
    worker's thread limits are set, rather than unpickled with whatever its module imports."""
    init_worker()
    module, name = target.split(":")
    result = getattr(importlib.import_module(module), name)(*args)
    import ray  # loaded already: this runs in a Ray worker

    return result, ray.get_runtime_context().get_node_id()


def release_freed_memory() -> None:
    """Hand the memory freed by the last job back to the kernel (glibc keeps it otherwise, and a worker's size would
    creep up with fragmentation from job to job). A no-op where the C library is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
