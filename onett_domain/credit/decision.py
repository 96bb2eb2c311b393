"""First-come credit: a text earns only for its earliest submission; exact and near copies earn nothing, and
neither does text the consumer already has (the reference corpus).

A competing document (one that passed the quality filters and matches no reference text) is a duplicate when an
earlier competing document has the same normalized text (exact) or is a near-duplicate of it (an estimated Jaccard
of at least the near-dedup threshold). Earlier means a smaller (submitted_at, contributor_id, file, position). Only
earlier documents count, whether or not they are themselves paid, so a chain of small edits cannot drift away from
the original.

The rule is re-applied to every text a submission touches whenever it is processed, so the outcome depends only on
what was submitted and when, never on the order submissions were processed in: a late-processed earlier upload
takes the credit back, a withdrawn upload hands it on, and every submission whose credit moved is reported so its
funnel is refreshed in the same transaction. A document's outcome depends only on earlier documents, and everything a
run changes is its submission's, so only the documents submitted from the submission's earliest document on
(`_since`) are decided again; the copies before count as one summary per text or passage. A text held a thousand
times then costs a decision per new copy, not a thousand.

Withdrawals are part of the rule, in time: a withdrawn document keeps its place for the time it was in. A copy whose
every earlier competing document has been withdrawn is accepted and earns from `earns_from` = the latest of their
withdrawal times (or its own submission, if later), never retroactively; a copy with an earlier document still in is
a duplicate. A document withdrawn before it could start earning stays a duplicate.

Passage-level credit follows (passage_credit.sql): within an accepted document, the tokens of passages an earlier
competing document (or the reference corpus) already holds earn nothing, by the same first-come order and the same
withdrawal rule, passage by passage; `documents.repeated_tokens` and `handed_on_tokens` say how many.

`decide` runs the steps below in order, each a `.sql` file in `sql/` named for what it decides; every scratch table
it uses is made and dropped here. Run it inside the transaction that commits the submission. With an engine, the
near-duplicate candidate search and the first-come decision itself run as its jobs, shard by shard (bucket_index,
key_shards); the warehouse applies what they decide.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import duckdb

import onett_domain.credit.key_shards as key_shards
import onett_domain.credit.near_index as near_index
import onett_domain.credit.passage_index as passage_index
from onett_domain.funnel import refresh_funnel
from onett_domain.terms import upload_terms
from onett_domain.sql import Scratch, execute, load, settings

SQL = Path(__file__).with_name("sql")
COMPETING = ("accepted", "duplicate", "near_duplicate")  # statuses that compete for first-come credit
# Competing texts from which a submission is decided on one DuckDB thread: its hash tables then fit the memory
# limit; a smaller one is decided on every thread (the joins scan the pool's documents and passages, whose cost
# grows with the pool: two threads take 0.45 s off a 10 MB submission into a 1 GB pool).
ONE_THREAD_TEXTS = 100_000
# Rows a backfill decides at a time: documents and the pairs of them the first-come decision compares, or passage
# holdings. A slice of a million documents, each with twelve near pairs, outgrew DuckDB's 1 GB.
SLICE_ROWS = 2_000_000
# DuckDB threads a backfill's slices run on (at most the connection's own): each holds at most SLICE_ROWS rows, so two
# threads' hash tables fit where the whole would not, and the decision takes about half the time of one thread.
SLICE_THREADS = 2


@dataclass
class Outcome:
    """What `decide` did to one submission."""

    withdrawn: int = 0  # documents of uploads withdrawn by this run
    indexed: int = 0  # texts added to the near-duplicate index
    passage_texts: int = 0  # texts added to the passage index
    near_pairs: int = 0  # near-duplicate pairs found
    reference_matches: int = 0
    by_status: dict[str, tuple[int, int]] = field(default_factory=dict)  # status -> (documents, tokens)
    others_moved: list[tuple[str, date]] = field(default_factory=list)  # other submissions whose credit moved
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds per step

    def documents(self, status: str) -> int:
        return self.by_status.get(status, (0, 0))[0]

    def tokens(self, status: str) -> int:
        return self.by_status.get(status, (0, 0))[1]


def _step(name: str) -> str:
    return load(SQL, name)


def decide(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date, documents: list[str],
           index: list[str], tz: ZoneInfo, passages: list[str] = (), run: near_index.Runner | None = None,
           on_step: Callable[[str], None] | None = None) -> Outcome:
    """Decide the credit of one submission's documents (`documents`: the Parquet parts `filtered` wrote; `index`:
    their MinHash signatures; `passages`: their passages) against everything in the warehouse, store them with the
    terms of their uploads (expiry instants in the platform time zone `tz`), and re-decide every other document
    whose credit this moves. The near-duplicate candidate search and the first-come decision run shard by shard on
    `run` (an engine's map; in this process by default); `on_step` is told the name of each step done (progress
    for a large submission)."""
    submission = {"contributor": contributor_id, "period": period}
    outcome, clock = Outcome(), _Clock(on_step)
    with Scratch(conn) as scratch:
        # The texts the submission competed with before: credit they held may move once it is replaced.
        scratch.table("_affected", _step("competing_texts"), submission)
        scratch.table("_since", _step("submission_since"), submission)
        # Withdrawn uploads keep their documents, back in a freshly read state; the rest is replaced.
        outcome.withdrawn = len(execute(conn, _step("withdrawn_documents"), submission))
        execute(conn, _step("reset_withdrawn_documents"), submission)
        execute(conn, _step("replaced_documents"), submission)
        # The texts that compete now: the withdrawn documents' and the new ones that passed the quality filters.
        scratch.table("_competing", _step("competing_texts"), submission)
        if documents:
            scratch.parquet_view("_filtered", documents)
            execute(conn, _step("incoming_kept_texts"))
            execute(conn, _step("pii_masks"))
        clock.lap("documents")
        outcome.indexed = near_index.add_signatures(conn, index)
        clock.lap("near index")
        outcome.passage_texts = passage_index.add_passages(conn, list(passages))
        clock.lap("passage index")
        outcome.near_pairs = near_index.find_near_pairs(conn, "_competing", run)
        clock.lap("near pairs")
        # Text equal or near to the reference corpus earns nothing.
        scratch.table("_reference_hits", _step("reference_hits"))
        outcome.reference_matches = len(execute(conn, _step("stored_reference_matches"), submission))
        execute(conn, "INSERT INTO _affected " + _step("competing_texts"), submission)
        if documents:
            scratch.frame("_upload_terms", upload_terms(conn, contributor_id, period, tz))
            scratch.view("_incoming", _step("incoming_documents"))
            (matches,), = conn.execute("SELECT count(*) FROM _incoming WHERE status = 'reference'").fetchall()
            outcome.reference_matches += matches
        else:
            scratch.view("_incoming", "SELECT * FROM documents WHERE FALSE")
        execute(conn, _step("incoming_competing_texts"))
        execute(conn, _step("incoming_since"))
        clock.lap("reference match")
        moved = _first_come(conn, scratch, clock, submission, run)
    outcome.others_moved = [m for m in moved if m != (contributor_id, period)]
    refresh_funnel(conn, outcome.others_moved)
    clock.lap("funnels of other submissions")
    outcome.by_status = {s: (int(n), int(t)) for s, n, t in execute(conn, _step("submission_outcome"), submission)}
    outcome.seconds = clock.seconds
    return outcome


def _first_come(conn: duckdb.DuckDBPyConnection, scratch: Scratch, clock: _Clock, submission: dict,
                run: near_index.Runner | None) -> list[tuple[str, date]]:
    """Re-decide every competing document whose text is in `_affected` or near one of them (on the engine's
    content-hash shards with `run`, else here); store the new documents (`_incoming`) with their final status and
    update only the stored ones whose outcome changed; then the passage credit of every document sharing a passage
    with them. Returns the submissions whose statuses, duplicate links, earning starts or passage credit changed
    (and the incoming one)."""
    # Without an order to keep (every reader orders what it shows) and, for a large submission, on one thread (one
    # set of hash tables, not one per thread; its slices, each of bounded size, on SLICE_THREADS), DuckDB stays
    # within its memory limit on the largest uploads.
    (texts,), = conn.execute("SELECT count(*) FROM _competing").fetchall()
    backfill = texts >= ONE_THREAD_TEXTS
    threads = None  # the slices': the connection's own setting, or for a backfill SLICE_THREADS at most
    if backfill:
        (own,), = conn.execute("SELECT current_setting('threads')").fetchall()
        threads = min(SLICE_THREADS, int(own))
    with settings(conn, preserve_insertion_order=False, **({"threads": 1} if backfill else {})):
        scratch.table("_changed", _step("changed_texts"))
        scratch.table("_touched", _step("touched_texts"))
        if run is not None:
            _engine_decision(conn, scratch, submission, run)
            scratch.view("_outcomes", _step("competing_documents"))  # joined to the decisions only
        else:
            key_shards.invalidate(conn)  # the shards do not follow the documents decided here
            scratch.table("_decided_texts", _step("decided_texts"))
            if backfill:
                # Whole, they would not fit memory: the documents decided are gathered as the keys the decision
                # reads, once for all its slices (each would otherwise read the stored documents and the upload's
                # parts again); the copies before them are read where the slices join them, and the whole rows
                # where the decisions are joined to them.
                scratch.view("_ranked_documents", _step("ranked_documents"))
                scratch.table("_ranked", _step("ranked_keys"))
                scratch.view("_summarized", _step("summarized_documents"))
                scratch.view("_outcomes", _step("competing_documents"))
            else:
                scratch.table("_ranked", _step("ranked_documents"))
                scratch.table("_summarized", _step("summarized_documents"))
                scratch.view("_outcomes", "SELECT * FROM _ranked")
            _in_slices(conn, scratch, "_decision", _step("first_come_decision"), view="_deciding", keys="_touched",
                       key="hash_key", count=_step("rows_to_decide") if backfill else None, threads=threads)
        scratch.table("_credit", _step("first_come"))
        moved = execute(conn, _step("moved_submissions"))
        execute(conn, _step("apply_credit"))
        execute(conn, _step("insert_incoming"))
        clock.lap("credit")
        scratch.table("_passage_seeds", _step("passage_seeds"))
        scratch.table("_passage_holders", _step("passage_holders"))
        _in_slices(conn, scratch, "_passage_credit", _step("passage_credit"), view="_judging", keys="_passage_seeds",
                   key="text_id", count=_step("passage_rows_to_judge") if backfill else None, threads=threads)
        scratch.table("_passage_moved", _step("passage_moved"))
        moved = sorted(set(moved) | set(execute(conn, _step("apply_passage_credit"))))
        clock.lap("passage credit")
    return [(c, p) for c, p in moved]


def _in_slices(conn: duckdb.DuckDBPyConnection, scratch: Scratch, table: str, select: str, *, view: str, keys: str,
               key: str, count: str | None, threads: int | None = None) -> int:
    """`table` from `select`, which reads the `key`s it decides from `view`: all of table `keys` at once, or, when
    the rows it would hold (`count`, a count query; None: few) exceed SLICE_ROWS, in slices of them, so that a
    backfill's memory stays within DuckDB's limit however many later copies of its texts it decides again; on
    `threads` DuckDB threads (None: the connection's setting). Every row is decided in the slice of its own key, so
    the slices decide what one statement does. Returns the slices."""
    slices = 1
    if count is not None:
        (rows,), = conn.execute(count).fetchall()
        slices = max(1, -(-int(rows) // SLICE_ROWS))
    with settings(conn, **({"threads": threads} if threads else {})):
        for n in range(slices):
            where = f" WHERE hash({key}) % {slices} = {n}" if slices > 1 else ""
            scratch.view(view, f"SELECT {key} FROM {keys}{where}")
            if n == 0:
                scratch.table(table, select)
            else:
                conn.execute(f"INSERT INTO {table} SELECT * FROM ({select}\n)")
    return slices


def _engine_decision(conn: duckdb.DuckDBPyConnection, scratch: Scratch, submission: dict,
                     run: near_index.Runner) -> None:
    """`_decision`: the first-come decision of the touched texts' documents as shard jobs on `run`, over the key
    shards with this submission's rows as this run leaves them (written in its transaction: they count once it
    commits)."""
    key_shards.ensure(conn)
    scratch.table("_submission_keys", _step("submission_keys"), submission)
    key_shards.replace(conn, submission["contributor"], submission["period"], "SELECT * FROM _submission_keys")
    select, work = key_shards.decision(conn, "_touched", run)
    try:
        scratch.table("_decision", select)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Clock:
    """Wall seconds per step, for the asset's metadata: where a run's time goes."""

    def __init__(self, on_step: Callable[[str], None] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()
        self._on_step = on_step

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(self.seconds.get(step, 0.0) + now - self._last, 3)
        self._last = now
        if self._on_step is not None:
            self._on_step(step)
