"""What runs inside a preprocessing worker process before and after its jobs. Kept free of Dagster (and so is
every module a job imports): a worker then starts in about a third of the time."""

from __future__ import annotations

import ctypes
import os


def init_worker() -> None:
    # One thread per worker: the workers already fill the cores, and oversubscribed threads only contend.
    os.environ["POLARS_MAX_THREADS"] = "1"
    os.environ["ONETT_SCAN_THREADS"] = "1"
    os.environ["RAYON_NUM_THREADS"] = "1"


def release_freed_memory() -> None:
    """Hand the memory freed by the last job back to the kernel (glibc keeps it otherwise, and a worker's size would
    creep up with fragmentation from job to job). A no-op where the C library is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
