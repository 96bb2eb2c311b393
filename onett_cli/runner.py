"""How `onett ingest` runs the pending submissions (contributor x month partitions).

One submission is one run of `ingest_submission`, in order. With several partitions and enough text, the steps are
split over two processes so the cores never wait on reading or on the warehouse: this process filters a partition
on the workers (`filter_submission`), while a second process reads the others (`read_submission`, all of them
while the first and largest is filtered, when the workers leave a core spare) and deduplicates and counts each
partition once it is filtered (`credit_submission`). Reading and deduplicating both write the warehouse, so they
take turns in that second process. Only the first read and the last deduplication are not overlapped: the first
read runs here while the second process starts, the largest partition goes first, and the others follow by their
documents, most first, so the last deduplication is the smallest (credit is re-ranked over the whole warehouse, so
the order never changes an outcome). A small partition still runs whole (three runs would cost more than they
overlap). Every step is an ordinary Dagster run on the same instance, visible in the UI.
"""

from __future__ import annotations

import atexit
import multiprocessing
import queue
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from onett_assets.partitions import submission_key
from onett_cli.session import Session, failure, run_metadata
from onett_domain.planning import PendingSubmission
from onett_resources.worker_process import name_process
from onett_text.pipeline import warm_up

PIPELINE_MIN_BYTES = 16 << 20  # below this, the second process costs more than the overlap saves
SPLIT_MIN_BYTES = 4 << 20  # a smaller partition runs whole: three runs would cost more than the overlap saves
WARM_MIN_BYTES = 3 << 20  # smaller uploads make under 1 MB of compressed Parquet: `filtered` then runs without
# workers (onett_assets/assets/ingest.py: IN_PROCESS_BYTES)
HELPER_EXIT_SECONDS = 30  # the second process is stopped if it has not exited by then


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


def run_partitions(session: Session, pending: list[PendingSubmission], say: Callable[[str], None]) -> list[Outcome]:
    pending = sorted(pending, key=lambda p: (p.period, p.contributor_id))
    outcomes = [Outcome(p.contributor_id, p.period, len(p.uploads)) for p in pending]
    total_bytes = sum(_bytes(p) for p in pending)
    split = sum(_bytes(p) >= SPLIT_MIN_BYTES for p in pending)
    if any(_bytes(p) >= WARM_MIN_BYTES for p in pending):  # start while the first is read
        session.resources["workers"].warm(partial(warm_up, session.resources["tokenizer"].encoding))
    if split and len(pending) > 1 and total_bytes >= PIPELINE_MIN_BYTES and session.resources["workers"].count() > 1:
        largest_first = sorted(pending, key=lambda p: -_bytes(p))  # stable: ties stay in (month, contributor) order
        _pipelined(session, largest_first, {_key(p): out for p, out in zip(pending, outcomes)}, say)
        return outcomes
    for n, (p, out) in enumerate(zip(pending, outcomes), start=1):
        say(_announce(n, len(pending), p))
        _run_whole(session, p, out, say)
    return outcomes


def _run_whole(session, p, out: Outcome, say) -> None:
    """The partition as one `ingest_submission` run, in this process."""
    out.started = time.monotonic()
    result = session.run("ingest_submission", _key(p))
    if result.success:
        out.documents = run_metadata(result, "raw_submission", "documents")
        out.files_rejected = run_metadata(result, "raw_submission", "files rejected")
        out.accepted_documents = run_metadata(result, "token_counts", "accepted documents")
        out.accepted_tokens = run_metadata(result, "token_counts", "accepted tokens")
        say(f"    {out.documents} documents read, {out.accepted_tokens} tokens accepted "
            f"({time.monotonic() - out.started:.1f}s)")
    else:
        out.error = failure(result)
        say(f"    FAILED {out.error}")


def _announce(n: int, total: int, p) -> str:
    return (f"[{n}/{total}] {p.contributor_id} {p.period:%Y-%m}: {len(p.uploads)} file(s), "
            f"{_bytes(p) / 1e6:.2f} MB ...")


def _pipelined(session, pending: list, by_key: dict[str, Outcome], say) -> None:
    """Filters partition after partition in this process (the largest first, then as `next_to_filter` picks) while
    a second process reads the others ahead and deduplicates each one filtered: only the first read and the last
    deduplication are not overlapped with filtering."""
    context = multiprocessing.get_context("spawn")
    todo, done = context.Queue(), context.Queue()
    helper = context.Process(target=warehouse_process, args=(todo, done), name="onett-warehouse", daemon=True)
    helper.start()
    asked: list[tuple[str, str]] = []  # (job, partition key) handed to the second process, in order
    answers: dict[tuple[str, str], tuple[str, dict]] = {}  # (job, key) -> (error, metadata)

    def ask(job: str, p) -> None:
        todo.put((job, _key(p)))
        asked.append((job, _key(p)))

    def answer(job: str, key: str) -> tuple[str, dict]:
        """Waits for the second process to finish (job, key), reporting finished credits meanwhile."""
        while (job, key) not in answers:
            if not collect(block=True):
                return (f"the warehouse process stopped (exit code {helper.exitcode}); run `onett ingest` again", {})
        return answers[(job, key)]

    def collect(block: bool) -> bool:
        """Takes an answer that has arrived (waiting up to 0.5 s for one if `block`); False if the second process
        is gone with work outstanding."""
        try:
            job, key, error, metadata = done.get(timeout=0.5 if block else 0)
        except queue.Empty:
            return helper.is_alive() or len(answers) == len(asked)
        answers[(job, key)] = (error, metadata)
        if job == "credit_submission":
            report_credit(key, error, metadata)
        return True

    def read_ahead() -> dict[str, int]:
        """The documents of each partition the second process has read so far (every answer arrived taken)."""
        while not done.empty() and collect(block=False):
            pass
        return {key: metadata.get("documents") or 0 for (job, key), (_, metadata) in answers.items()
                if job == "read_submission"}

    def report_credit(key: str, error: str, metadata: dict) -> None:
        out = by_key[key]
        out.error = out.error or error
        out.accepted_documents = metadata.get("accepted documents", "")
        out.accepted_tokens = metadata.get("accepted tokens", "")
        label = f"{out.contributor_id} {out.period:%Y-%m}"
        if error:
            say(f"    {label}: FAILED {error}")
        else:
            say(f"    {label}: {out.documents} documents read, {out.accepted_tokens} tokens accepted "
                f"({time.monotonic() - out.started:.1f}s)")

    split = [p for p in pending if _bytes(p) >= SPLIT_MIN_BYTES]
    waiting = list(pending)
    try:
        for n in range(1, len(pending) + 1):
            p = next_to_filter(waiting, split[0] if split else None, read_ahead())
            waiting.remove(p)
            out = by_key[_key(p)]
            say(_announce(n, len(pending), p))
            if _bytes(p) < SPLIT_MIN_BYTES:
                # Small: one run is cheaper than three, and there is little to overlap.
                _run_whole(session, p, out, say)
                continue
            if p is split[0]:  # read here while the second process starts (its imports take a while)
                error, metadata = run_reported(session, "read_submission", _key(p))
                for later in split[1:]:  # all read ahead while the largest is filtered, which leaves a core spare
                    ask("read_submission", later)
            else:
                error, metadata = answer("read_submission", _key(p))
            out.started = time.monotonic()
            if error:
                out.error = error
                say(f"    FAILED {out.error}")
                continue
            out.documents = metadata.get("documents", "")
            out.files_rejected = metadata.get("files rejected", "")
            filtered = session.run("filter_submission", _key(p))
            if not filtered.success:
                out.error = failure(filtered)
                say(f"    FAILED {out.error}")
                continue
            ask("credit_submission", p)
            collect(block=False)
        todo.put(None)
        session.resources["workers"].release(wait=False)  # filtering is over: they exit beside the last credits
        for job, key in asked:
            error, _ = answer(job, key)
            if error and job == "credit_submission" and not by_key[key].error:
                report_credit(key, error, {})
    except BaseException:
        _stop(helper, todo)
        raise
    # Every answer is in: the second process is only exiting (about a second). This one goes on with the indexes
    # meanwhile and waits for it when it exits itself.
    atexit.register(_stop, helper, todo)


def next_to_filter(waiting: list, first, documents: dict[str, int]):
    """The partition of `waiting` (largest first) to filter next. The largest (`first`) goes first: this process
    reads it at once and it is the longest to filter. Then, of those the second process has read (`documents`:
    partition key -> documents read), the one with the most documents: a credit costs by the documents, and the
    partition filtered last is credited after all the filtering, on its own, so it should be the one with the
    fewest. Otherwise the next in size order (its read is waited for; small partitions, run whole, come last)."""
    if first in waiting:
        return first
    read = [p for p in waiting if _key(p) in documents]
    return max(read, key=lambda p: documents[_key(p)]) if read else waiting[0]


def _stop(helper, todo) -> None:
    """Lets the second process finish what it runs and exit (it is stopped after HELPER_EXIT_SECONDS)."""
    if helper.is_alive():
        todo.put(None)
    helper.join(timeout=HELPER_EXIT_SECONDS)
    if helper.is_alive():
        helper.terminate()


def _bytes(p: PendingSubmission) -> int:
    return p.size


def _key(p: PendingSubmission) -> str:
    return str(submission_key(p.contributor_id, p.period))


# What the second process reports of each job (asset, metadata label).
REPORTED = {
    "read_submission": [("raw_submission", "documents"), ("raw_submission", "files rejected")],
    "credit_submission": [("token_counts", "accepted documents"), ("token_counts", "accepted tokens")],
}


def run_reported(session, job: str, key: str) -> tuple[str, dict]:
    """Runs `job` for partition `key`: (error, metadata in REPORTED); never raises, the other partitions go on."""
    try:
        result = session.run(job, key)
    except Exception as exc:  # noqa: BLE001 - reported for this partition
        return f"{exc.__class__.__name__}: {exc}", {}
    if not result.success:
        return failure(result), {}
    return "", {label: run_metadata(result, asset, label) for asset, label in REPORTED[job]}


def warehouse_process(todo, done) -> None:
    """The second process: runs the (job, partition key) it is handed, in order, until None; a failure is
    reported for its partition and the others go on."""
    import os

    name_process("onett-warehouse")
    # The workers of the other process keep the cores busy: DuckDB threads beyond one would only contend with them.
    os.environ.setdefault("ONETT_WAREHOUSE_THREADS", "1")
    session = Session()
    while (task := todo.get()) is not None:
        job, key = task
        done.put((job, key, *run_reported(session, job, key)))
