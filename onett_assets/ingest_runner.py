"""How `onett ingest` runs the pending (contributor, month) partitions.

One partition is one run of `ingest_submission`, in order. With several partitions and enough text, the steps are
split over two processes so the cores never wait on the warehouse: this process reads a partition and filters it
on the workers, while a second process deduplicates and counts the partition before it (`credit_submission`).
Reading and deduplicating both write the warehouse (Dagster's `duckdb` pool lets one at a time in), so the
previous partition is handed over only once the next one has been read: filtering, the long step, then overlaps
deduplication. A small partition still runs whole (three runs would cost more than they overlap). Every step is
an ordinary Dagster run on the same instance, visible in the UI.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from onett_assets.preprocessing.pipeline import warm_up

PIPELINE_MIN_BYTES = 16 << 20  # below this, the second process costs more than the overlap saves
SPLIT_MIN_BYTES = 4 << 20  # a smaller partition runs whole: three runs would cost more than the overlap saves
WARM_MIN_BYTES = 3 << 20  # smaller uploads make under 1 MB of compressed Parquet: `filtered` then runs without
# workers (assets/ingest.py: IN_PROCESS_BYTES)


@dataclass
class Outcome:
    """What became of one partition, for the CLI's summary table."""

    contributor_id: str
    period: object
    files: int
    documents: object = ""
    accepted_documents: object = ""
    accepted_tokens: object = ""
    files_rejected: object = ""
    error: str = ""
    seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return not self.error

    def row(self) -> list:
        return [self.contributor_id, f"{self.period:%Y-%m}", self.files, self.documents, self.accepted_documents,
                self.accepted_tokens, self.files_rejected, "ok" if self.ok else "FAILED"]


def run_partitions(session, pending: list, say: Callable[[str], None]) -> list[Outcome]:
    pending = sorted(pending, key=lambda p: (p.period, p.contributor_id))
    outcomes = [Outcome(p.contributor_id, p.period, len(p.files)) for p in pending]
    total_bytes = sum(f.size for p in pending for f in p.files)
    split = sum(sum(f.size for f in p.files) >= SPLIT_MIN_BYTES for p in pending)
    if any(sum(f.size for f in p.files) >= WARM_MIN_BYTES for p in pending):  # start while the first is read
        session.resources["workers"].warm(partial(warm_up, session.resources["tokenizer"].encoding))
    if split and len(pending) > 1 and total_bytes >= PIPELINE_MIN_BYTES and session.resources["workers"].count() > 1:
        return _pipelined(session, pending, outcomes, say)
    for n, (p, out) in enumerate(zip(pending, outcomes), start=1):
        say(_announce(n, len(pending), p))
        _run_whole(session, p, out, say)
    return outcomes


def _run_whole(session, p, out: Outcome, say) -> None:
    """The partition as one `ingest_submission` run, in this process."""
    from onett_assets.cli import _failure, _metadata

    out.started = time.monotonic()
    result = session.run("ingest_submission", p.partition_key)
    if result.success:
        out.documents = _metadata(result, "raw_submission", "documents")
        out.files_rejected = _metadata(result, "raw_submission", "files rejected")
        out.accepted_documents = _metadata(result, "token_counts", "accepted documents")
        out.accepted_tokens = _metadata(result, "token_counts", "accepted tokens")
        say(f"    {out.documents} documents read, {out.accepted_tokens} tokens accepted "
            f"({time.monotonic() - out.started:.1f}s)")
    else:
        out.error = _failure(result)
        say(f"    FAILED {out.error}")


def _announce(n: int, total: int, p) -> str:
    return (f"[{n}/{total}] {p.contributor_id} {p.period:%Y-%m}: {len(p.files)} file(s), "
            f"{sum(f.size for f in p.files) / 1e6:.2f} MB ...")


def _pipelined(session, pending: list, outcomes: list[Outcome], say) -> list[Outcome]:
    from onett_assets.cli import _failure, _metadata

    context = multiprocessing.get_context("spawn")
    todo, done = context.Queue(), context.Queue()
    credit = context.Process(target=credit_process, args=(todo, done), name="onett-credit", daemon=True)
    credit.start()
    by_key = {p.partition_key: out for p, out in zip(pending, outcomes)}
    handed, finished = [], set()

    def collect(block: bool) -> None:
        while len(finished) < len(handed):
            try:
                key, error, accepted_documents, accepted_tokens = done.get(timeout=0.5 if block else 0)
            except queue.Empty:
                if not credit.is_alive():
                    for key in handed:
                        if key not in finished:
                            by_key[key].error = (f"the deduplication process stopped (exit code {credit.exitcode}); "
                                                 "run `onett ingest` again")
                            finished.add(key)
                    return
                if not block:
                    return
                continue
            out = by_key[key]
            finished.add(key)
            out.error, out.accepted_documents, out.accepted_tokens = error, accepted_documents, accepted_tokens
            label = f"{out.contributor_id} {out.period:%Y-%m}"
            if error:
                say(f"    {label}: FAILED {error}")
            else:
                say(f"    {label}: {out.documents} documents read, {accepted_tokens} tokens accepted "
                    f"({time.monotonic() - out.started:.1f}s)")

    def hand_over(key: str | None) -> None:
        if key is not None:
            todo.put(key)
            handed.append(key)

    previous = None
    try:
        for n, p in enumerate(pending, start=1):
            out = by_key[p.partition_key]
            out.started = time.monotonic()
            say(_announce(n, len(pending), p))
            if sum(f.size for f in p.files) < SPLIT_MIN_BYTES:
                # Small: one run is cheaper than three, and there is little to overlap.
                hand_over(previous)
                previous = None
                _run_whole(session, p, out, say)
                continue
            read = session.run("read_submission", p.partition_key)
            # Only now may the previous partition take the warehouse: this one's read no longer needs it.
            hand_over(previous)
            previous = None
            if not read.success:
                out.error = _failure(read)
                say(f"    FAILED {out.error}")
                continue
            out.documents = _metadata(read, "raw_submission", "documents")
            out.files_rejected = _metadata(read, "raw_submission", "files rejected")
            filtered = session.run("filter_submission", p.partition_key)
            if not filtered.success:
                out.error = _failure(filtered)
                say(f"    FAILED {out.error}")
                continue
            previous = p.partition_key
            collect(block=False)
        hand_over(previous)
        todo.put(None)
        collect(block=True)
    finally:
        if credit.is_alive():
            todo.put(None)
        credit.join(timeout=30)
        if credit.is_alive():
            credit.terminate()
    return outcomes


def credit_process(todo, done) -> None:
    """The second process: `credit_submission` for each partition key it is handed, until None."""
    import os

    from onett_assets.cli import Session, _failure, _metadata

    # The workers of the other process keep the cores busy: DuckDB threads beyond one would only contend with them.
    os.environ.setdefault("ONETT_WAREHOUSE_THREADS", "1")
    session = Session()
    while (key := todo.get()) is not None:
        try:
            result = session.run("credit_submission", key)
            if result.success:
                done.put((key, "", _metadata(result, "token_counts", "accepted documents"),
                          _metadata(result, "token_counts", "accepted tokens")))
            else:
                done.put((key, _failure(result), "", ""))
        except Exception as exc:  # noqa: BLE001 - reported for this partition; the others go on
            done.put((key, f"{exc.__class__.__name__}: {exc}", "", ""))
