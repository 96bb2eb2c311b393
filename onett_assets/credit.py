"""First-come credit: every distinct text is credited to its earliest submission, and only to it.

Earliest means the smallest (submitted_at, contributor_id, file, position). The rule is applied over all
documents in the warehouse whenever a partition changes, so the result depends only on what was submitted
and when, never on the order in which partitions were processed: a late-processed earlier upload takes the
credit back from a later copy, a withdrawn upload hands it on to the next copy, and every partition whose
credit moved is reported so its funnel is refreshed in the same transaction.
"""

from __future__ import annotations

from datetime import date

import duckdb

COMPETING = "('accepted', 'duplicate')"  # documents that passed the filters and the reference match


def competing_hashes(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date) -> list[str]:
    return [
        h
        for (h,) in conn.execute(
            f"SELECT DISTINCT content_hash FROM documents WHERE contributor_id = ? AND period = ? AND status IN {COMPETING}",
            [contributor_id, period],
        ).fetchall()
    ]


def rerank(conn: duckdb.DuckDBPyConnection, hashes: list[str]) -> list[tuple[str, date]]:
    """Re-rank every copy of these texts; returns the partitions whose credit or duplicate links changed."""
    if not hashes:
        return []
    conn.execute("CREATE OR REPLACE TEMP TABLE _touched (content_hash VARCHAR PRIMARY KEY)")
    conn.executemany("INSERT OR IGNORE INTO _touched VALUES (?)", [[h] for h in hashes])
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _credit AS
        WITH ranked AS (
            SELECT d.contributor_id, d.period, d.file, d.position, d.status AS old_status,
                   d.duplicate_of AS old_duplicate_of,
                   row_number() OVER w = 1 AS is_first,
                   first_value(d.contributor_id) OVER w AS first_contributor,
                   first_value(d.file) OVER w AS first_file,
                   first_value(d.position) OVER w AS first_position
            FROM documents d JOIN _touched USING (content_hash)
            WHERE d.status IN {COMPETING}
            WINDOW w AS (PARTITION BY d.content_hash ORDER BY d.submitted_at, d.contributor_id, d.file, d.position)
        )
        SELECT contributor_id, period, file, position, old_status, old_duplicate_of,
               CASE WHEN is_first THEN 'accepted' ELSE 'duplicate' END AS status,
               CASE WHEN is_first THEN ''
                    WHEN first_contributor = contributor_id
                        THEN 'exact copy of your earlier document ' || first_file || ' #' || first_position
                    ELSE 'exact copy of a document submitted earlier by ' || first_contributor END AS reason,
               CASE WHEN is_first THEN '' ELSE first_contributor || '/' || first_file || '#' || first_position END
                   AS duplicate_of
        FROM ranked
        """
    )
    changed = conn.execute(
        """SELECT DISTINCT contributor_id, period FROM _credit
           WHERE status <> old_status OR duplicate_of <> old_duplicate_of ORDER BY ALL"""
    ).fetchall()
    conn.execute(
        """
        UPDATE documents d SET status = c.status, reason = c.reason, duplicate_of = c.duplicate_of
        FROM _credit c
        WHERE d.contributor_id = c.contributor_id AND d.period = c.period
          AND d.file = c.file AND d.position = c.position
          AND (d.status <> c.status OR d.duplicate_of <> c.duplicate_of)
        """
    )
    conn.execute("DROP TABLE _touched; DROP TABLE _credit")
    return [(c, p) for c, p in changed]
