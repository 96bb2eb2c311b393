"""First-come credit: a text earns only for its earliest submission; exact and near copies earn nothing.

A competing document (one that passed the quality filters and matches no reference text) is a duplicate
when an earlier competing document has the same normalized text (exact) or is a near-duplicate of it
(an estimated Jaccard of at least the near-dedup threshold). Earlier means a smaller
(submitted_at, contributor_id, file, position). Only earlier documents count, whether or not they are
themselves paid, so a chain of small edits cannot drift away from the original.

The rule is re-applied over the whole warehouse whenever a partition changes, so the outcome depends only on
what was submitted and when, never on the order partitions were processed in: a late-processed earlier
upload takes the credit back, a withdrawn upload hands it on, and every partition whose credit moved is
reported so its funnel is refreshed in the same transaction.

Withdrawals (withdrawals.py) are part of the rule, in time: a withdrawn document keeps its place for the time
it was in. A copy whose every earlier competing document has been withdrawn is accepted and earns from
`earns_from` = the latest of their withdrawal times (or its own submission, if later), never retroactively;
a copy with an earlier document still in is a duplicate. Accepted documents otherwise earn from their
submission. A document withdrawn before it could start earning stays a duplicate.
"""

from __future__ import annotations

from datetime import date

import duckdb

COMPETING = "('accepted', 'duplicate', 'near_duplicate')"
IN_FOREVER = "'infinity'::TIMESTAMPTZ"  # the withdrawal time of a document still in the landing zone


def store_competing_hashes(conn: duckdb.DuckDBPyConnection, table: str, contributor_id: str, period: date,
                           replace: bool = True) -> None:
    """The distinct texts of the partition's competing documents, into temp table `table` (kept in the warehouse:
    a large upload's hashes never pass through Python)."""
    select = (f"SELECT DISTINCT content_hash FROM documents "
              f"WHERE contributor_id = ? AND period = ? AND status IN {COMPETING}")
    if replace:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select}", [contributor_id, period])
    else:
        conn.execute(f"INSERT INTO {table} {select}", [contributor_id, period])


# The columns the re-rank reads, from `documents` and from a partition's incoming documents alike.
_RANKED = "contributor_id, period, file, position, content_hash, submitted_at, withdrawn_at, status, reason, " \
          "duplicate_of, similarity, rule, filter_group, earns_from"


def rerank(conn: duckdb.DuckDBPyConnection, hashes: str, incoming: str | None = None) -> list[tuple[str, date]]:
    """Re-decide every document whose text is in table `hashes` (column content_hash) or near one of them.

    `incoming`: a table or view (the columns of `documents`) of a partition's new documents, not yet in
    `documents`: they are decided with the rest and then inserted with their final status, and only the
    documents already stored whose outcome changed are updated. (DuckDB rewrites every row an UPDATE touches:
    inserting a 2 GB upload as accepted and then updating its 3.9 M rows took many minutes.)

    Returns the partitions whose statuses, duplicate links or earning starts changed (and those of `incoming`)."""
    # A 2 GB upload re-ranks 3.9 M documents against 34 M near pairs: without an order to keep (every reader orders
    # what it shows) and on one thread (one set of hash tables, not one per thread), DuckDB stays within its memory
    # limit. On failure the transaction is rolled back and the connection closed, settings with it.
    (order, threads), = conn.execute(
        "SELECT current_setting('preserve_insertion_order'), current_setting('threads')").fetchall()
    conn.execute("SET preserve_insertion_order = false; SET threads = 1")
    moved = _rerank(conn, hashes, incoming)
    conn.execute(f"SET preserve_insertion_order = {order}; SET threads = {threads}")
    return moved


def _rerank(conn: duckdb.DuckDBPyConnection, hashes: str, incoming: str | None) -> list[tuple[str, date]]:
    stored = f"SELECT {_RANKED}, FALSE AS incoming FROM documents"
    conn.execute(f"""CREATE OR REPLACE TEMP VIEW _ranked AS {stored}
                     {f"UNION ALL SELECT {_RANKED}, TRUE FROM {incoming}" if incoming else ""}""")
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _changed AS SELECT DISTINCT content_hash FROM {hashes}")
    # Documents similar to a changed text may change too: one step along the near pairs is enough,
    # because a document's status depends only on the documents similar to it.
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT content_hash FROM _changed
        UNION SELECT n.other_hash FROM near_pairs n JOIN _changed USING (content_hash)
        """
    )
    # Documents are ordered by (submitted_at, contributor_id, file, position, gone); `gone` (withdrawn_at, or
    # infinity while the file is in) only tells a withdrawn upload from a later one of the same file and time.
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _credit AS
        WITH docs AS (
            SELECT d.contributor_id, d.period, d.file, d.position, d.content_hash, d.submitted_at, d.withdrawn_at,
                   coalesce(d.withdrawn_at, {IN_FOREVER}) AS gone, d.incoming,
                   d.status AS old_status, d.reason AS old_reason, d.duplicate_of AS old_duplicate_of,
                   d.similarity AS old_similarity, d.rule AS old_rule, d.filter_group AS old_filter_group,
                   d.earns_from AS old_earns_from
            FROM _ranked d JOIN _touched USING (content_hash) WHERE d.status IN {COMPETING}
        ), exact AS (
            -- copies of the same text: the documents before each one in submission order (a window, not a join:
            -- a text uploaded k times costs k rows, not k squared)
            SELECT contributor_id, period, file, position, gone,
                   first_value((FALSE, submitted_at, contributor_id, file, position, 1.0::DOUBLE)) OVER earlier AS first,
                   count(*) FILTER (WHERE withdrawn_at IS NULL) OVER earlier AS still_in,
                   max(withdrawn_at) OVER earlier AS last_withdrawn_at
            FROM docs
            WINDOW earlier AS (PARTITION BY content_hash ORDER BY submitted_at, contributor_id, file, position, gone
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        ), near AS (
            SELECT d.contributor_id, d.period, d.file, d.position, d.gone,
                   min((TRUE, e.submitted_at, e.contributor_id, e.file, e.position, n.similarity)) AS first,
                   count(*) FILTER (WHERE e.withdrawn_at IS NULL) AS still_in,
                   max(e.withdrawn_at) AS last_withdrawn_at
            FROM docs d
            JOIN near_pairs n ON n.content_hash = d.content_hash
            JOIN _ranked e ON e.content_hash = n.other_hash AND e.status IN {COMPETING}
            WHERE (e.submitted_at, e.contributor_id, e.file, e.position, coalesce(e.withdrawn_at, {IN_FOREVER}))
                < (d.submitted_at, d.contributor_id, d.file, d.position, d.gone)
            GROUP BY ALL
        ), earlier AS (
            -- an exact copy before it decides over any near one
            SELECT contributor_id, period, file, position, gone,
                   coalesce(x.first, n.first) AS first,
                   coalesce(x.still_in, 0) + coalesce(n.still_in, 0) AS still_in,
                   greatest(x.last_withdrawn_at, n.last_withdrawn_at) AS last_withdrawn_at
            FROM exact x FULL JOIN near n USING (contributor_id, period, file, position, gone)
            WHERE x.first IS NOT NULL OR n.first IS NOT NULL
        ), decided AS (
            SELECT d.*, x.first,
                   CASE WHEN x.first IS NULL THEN d.submitted_at
                        WHEN x.still_in = 0 AND greatest(d.submitted_at, x.last_withdrawn_at) < d.gone
                            THEN greatest(d.submitted_at, x.last_withdrawn_at) END AS earns_from
            FROM docs d LEFT JOIN earlier x USING (contributor_id, period, file, position, gone)
        ), credited AS (
            SELECT contributor_id, period, file, position, gone, incoming, earns_from, old_status, old_reason,
                   old_duplicate_of, old_similarity, old_rule, old_filter_group, old_earns_from,
                   CASE WHEN earns_from IS NOT NULL THEN 'accepted'
                        WHEN NOT first[1] THEN 'duplicate' ELSE 'near_duplicate' END AS status,
                   CASE WHEN first IS NULL THEN ''
                        ELSE (CASE WHEN NOT first[1] THEN 'exact copy' ELSE 'near copy (similarity '
                                   || round(first[6], 2) || ')' END)
                            || (CASE WHEN first[3] = contributor_id
                                     THEN ' of your earlier document ' || first[4] || ' #' || first[5]
                                     ELSE ' of a document another contributor submitted earlier' END)
                            || (CASE WHEN earns_from IS NOT NULL
                                     THEN '; every earlier copy was withdrawn, so this one earns from then on'
                                     ELSE '' END) END AS reason,
                   CASE WHEN first IS NULL THEN '' ELSE first[3] || '/' || first[4] || '#' || first[5] END
                       AS duplicate_of,
                   CASE WHEN first IS NULL THEN NULL ELSE first[6] END AS similarity,
                   CASE WHEN first IS NULL OR earns_from IS NOT NULL THEN ''
                        WHEN NOT first[1] THEN 'exact_dedup' ELSE 'near_dedup' END AS rule
            FROM decided
        )
        SELECT *, incoming OR status <> old_status OR reason <> old_reason OR duplicate_of <> old_duplicate_of
                  OR similarity IS DISTINCT FROM old_similarity OR rule <> old_rule OR old_filter_group <> ''
                  OR earns_from IS DISTINCT FROM old_earns_from AS changed
        FROM credited
        """
    )
    changed = conn.execute(
        """SELECT DISTINCT contributor_id, period FROM _credit
           WHERE status <> old_status OR duplicate_of <> old_duplicate_of
              OR earns_from IS DISTINCT FROM old_earns_from OR incoming ORDER BY ALL"""
    ).fetchall()
    conn.execute(
        f"""
        UPDATE documents d SET status = c.status, reason = c.reason, duplicate_of = c.duplicate_of,
               similarity = c.similarity, rule = c.rule, filter_group = '', earns_from = c.earns_from
        FROM _credit c
        WHERE c.changed AND NOT c.incoming
          AND d.contributor_id = c.contributor_id AND d.period = c.period
          AND d.file = c.file AND d.position = c.position AND coalesce(d.withdrawn_at, {IN_FOREVER}) = c.gone
        """
    )
    if incoming:
        conn.execute(
            f"""
            INSERT INTO documents BY NAME
            SELECT i.* REPLACE (coalesce(c.status, i.status) AS status, coalesce(c.reason, i.reason) AS reason,
                                coalesce(c.duplicate_of, i.duplicate_of) AS duplicate_of,
                                CASE WHEN c.status IS NULL THEN i.similarity ELSE c.similarity END AS similarity,
                                coalesce(c.rule, i.rule) AS rule,
                                CASE WHEN c.status IS NULL THEN i.filter_group ELSE '' END AS filter_group,
                                CASE WHEN c.status IS NULL THEN i.earns_from ELSE c.earns_from END AS earns_from)
            FROM {incoming} i LEFT JOIN _credit c
              ON c.incoming AND c.contributor_id = i.contributor_id AND c.period = i.period AND c.file = i.file
             AND c.position = i.position
            """
        )
    conn.execute("DROP VIEW _ranked; DROP TABLE _changed; DROP TABLE _touched; DROP TABLE _credit")
    return [(c, p) for c, p in changed]
