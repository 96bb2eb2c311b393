"""Withdrawn uploads: a file removed from the landing zone stops earning from the moment the platform first
saw it gone, and everything before that stays as it was (closed months are not recomputed differently).

An upload is one version of a file: (file, modification time, size). When a partition is processed again,
`raw_submission` keeps the `submissions` row of every upload that was read before (accepted or partially
accepted) and is no longer in the landing zone, with status `withdrawn` and `withdrawn_at` = the time of that
run; `deduped` then keeps the upload's documents with the same `withdrawn_at` instead of deleting them. Later
runs never touch a withdrawn row again, so the first withdrawal time stays. A file rewritten or touched in
place is a new upload, so its earlier version is withdrawn; a file that comes back under the same name is read
as a new upload and the withdrawn rows stay as they were. Uploads that never had documents (rejected files,
symlinks, duplicate uploads of the same bytes) are simply forgotten when they disappear.

A withdrawn document keeps competing for first-come credit (see credit.py) for the time it was in: its copies
earn from when the last earlier copy was withdrawn, never retroactively.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import duckdb
import polars as pl

# Submission statuses of uploads whose documents were read: only these can be withdrawn.
READ_STATUSES = ("accepted", "partially accepted")


def observed_at() -> datetime:
    """When this run looked at the landing zone: the time a withdrawal is recorded at."""
    return datetime.now(timezone.utc)


def withdraw_submissions(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date,
                         present: pl.DataFrame) -> list[str]:
    """Mark the partition's read uploads that are no longer in the landing zone (`present`: the submissions
    rows about to be written) as withdrawn now; returns their files. Call inside the transaction that then
    replaces the partition's rows that are not withdrawn."""
    conn.register("_present", present.select("file", "mtime_ns", "bytes").to_arrow())
    try:
        rows = conn.execute(
            f"""
            UPDATE submissions s SET status = 'withdrawn', withdrawn_at = $at,
                   notes = 'removed from the landing zone; it was ' || s.status
                           || CASE WHEN coalesce(s.notes, '') <> '' THEN '; ' || s.notes ELSE '' END
            WHERE s.contributor_id = $c AND s.period = $p AND s.withdrawn_at IS NULL
              AND s.status IN {READ_STATUSES}
              AND NOT EXISTS (SELECT 1 FROM _present n
                              WHERE n.file = s.file AND n.mtime_ns = s.mtime_ns AND n.bytes = s.bytes)
            RETURNING s.file
            """,
            {"at": observed_at(), "c": contributor_id, "p": period},
        ).fetchall()
    finally:
        conn.unregister("_present")
    return sorted(f for (f,) in rows)


def keep_withdrawn_documents(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date) -> int:
    """Before the partition's documents are replaced from its Parquet parts: give the documents of withdrawn
    uploads their upload's `withdrawn_at` (they are then kept), and put every withdrawn document back to the
    state a freshly read one has (accepted or rejected by the filters), so the reference match and the
    first-come re-rank that follow decide it exactly like the others. Returns how many were newly withdrawn."""
    params = {"c": contributor_id, "p": period}
    newly = conn.execute(
        """
        UPDATE documents d SET withdrawn_at = w.withdrawn_at
        FROM (SELECT file, submitted_at, max(withdrawn_at) AS withdrawn_at FROM submissions
              WHERE contributor_id = $c AND period = $p AND status = 'withdrawn' GROUP BY ALL) w
        WHERE d.contributor_id = $c AND d.period = $p AND d.withdrawn_at IS NULL
          AND (d.file = w.file OR starts_with(d.file, w.file || '/'))  -- members of an archive
          AND d.submitted_at = w.submitted_at
          AND NOT EXISTS (SELECT 1 FROM submissions s  -- the same version read again after it came back
                          WHERE s.contributor_id = $c AND s.period = $p AND s.withdrawn_at IS NULL
                            AND s.file = w.file AND s.submitted_at = w.submitted_at)
        RETURNING d.position
        """,
        params,
    ).fetchall()
    conn.execute(
        """
        UPDATE documents SET status = 'accepted', reason = '', duplicate_of = '', similarity = NULL, rule = '',
               filter_group = '', earns_from = NULL
        WHERE contributor_id = $c AND period = $p AND withdrawn_at IS NOT NULL AND status <> 'rejected'
        """,
        params,
    )
    return len(newly)
