"""Re-decide one submission of a kept platform inside a transaction that is rolled back: where `deduped`'s time
goes, repeatably, without changing the platform.

    DAGSTER_HOME=<kept home> .venv/bin/python bench/redecide.py CONTRIBUTOR PERIOD [--runs 3] [--cold]
                                                          [--baseline unfiltered|serial] [--statements 10]

A kept home comes from `bench/throughput.py --keep` (its incremental submission is `newcomer`, period the month it
ran in). Each run opens the warehouse, decides the submission's credit from its `filtered` parts as `deduped` does,
prints the seconds of each step and rolls back. `--cold` first drops the near-duplicate index's files and the
warehouse from the page cache (posix_fadvise DONTNEED), as after a pool grew past the machine's memory; the first
run in a process also pays for opening the memory maps and DuckDB's buffer pool. `--baseline` re-decides twice a
run, first as before a change, then as now: a baseline in the same process. `unfiltered`: every bucket let through
the bucket files' Bloom filters; `serial`: the bucket files and signature files read one at a time.
`--statements N`: also the N slowest SQL statements of the decision (their first line), mean seconds per run."""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np

from onett_cli.session import Session
from onett_domain import credit
from onett_domain import sql as sql_module
from onett_domain.credit import bucket_index, decision, key_filter, signature_files, sorted_buckets


def evict(paths: list[Path]) -> int:
    """Drops the files' pages from the page cache (clean pages only: nothing is lost); returns how many files."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("contributor")
    parser.add_argument("period", type=date.fromisoformat, help="the submission's month, e.g. 2026-12-01")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="drop the index and warehouse from the page cache first")
    parser.add_argument("--baseline", choices=["unfiltered", "serial"],
                        help="each run first without the bucket filters, or reading one file at a time")
    parser.add_argument("--statements", type=int, default=0, help="print the N slowest SQL statements")
    args = parser.parse_args()
    statements = _time_statements() if args.statements else {}
    session = Session()
    store, warehouse, policy = (session.resources["document_store"], session.resources["warehouse"],
                                session.policy)
    parts = {kind: [str(p) for p in store.parts("filtered", args.contributor, args.period, kind)]
             for kind in ("docs", "index", "passages")}
    database = Path(warehouse.database)
    now = key_filter.may_hold, sorted_buckets.LOOKUP_THREADS, signature_files.FETCH_THREADS
    before = {"unfiltered": (lambda words, keys: np.ones(len(keys), dtype=bool), *now[1:]),
              "serial": (now[0], 1, 1)}.get(args.baseline)
    for run in range(1, args.runs + 1):
        for baseline in (True, False) if before else (False,):
            key_filter.may_hold, sorted_buckets.LOOKUP_THREADS, signature_files.FETCH_THREADS = \
                before if baseline else now
            if args.cold:
                files = [p for p in bucket_index.folder_of(database).rglob("*") if p.is_file()] + [database]
                evict(files)
            with warehouse.connection() as conn:
                conn.execute("BEGIN TRANSACTION")
                started = time.perf_counter()
                outcome = credit.decide(conn, args.contributor, args.period, parts["docs"], parts["index"],
                                        policy.tz, parts["passages"])
                total = time.perf_counter() - started
                conn.execute("ROLLBACK")
            steps = ", ".join(f"{step} {seconds:.3f}" for step, seconds in outcome.seconds.items())
            print(f"run {run}{' (cold)' if args.cold else ''}{f' ({args.baseline})' if baseline else ''}: "
                  f"{total:.3f} s; {steps}; {outcome.near_pairs:,} near pairs", flush=True)
    for first_line, seconds in sorted(statements.items(), key=lambda item: -item[1])[:args.statements]:
        print(f"{seconds / args.runs:7.3f} s  {first_line}")


def _time_statements() -> dict[str, float]:
    """Seconds per SQL statement the decision runs through `execute` (keyed by its first line), summed."""
    seconds: dict[str, float] = defaultdict(float)
    run = decision.execute

    def timed(conn, sql, params=None):
        started = time.perf_counter()
        try:
            return run(conn, sql, params)
        finally:
            line = next((x for x in sql.splitlines() if x.strip() and not x.lstrip().startswith("--")), "")
            seconds[" ".join(line.split())[:100]] += time.perf_counter() - started

    decision.execute = timed
    sql_module.execute = timed  # Scratch tables run through it too
    return seconds


if __name__ == "__main__":
    main()
